// File patterns as huggingface_hub's allow_patterns / ignore_patterns read them: Python's
// fnmatch (case-sensitive), where `*` also crosses '/', and 'dir/' means everything in dir.

function fnmatchRegExp(pattern: string): RegExp {
  if (pattern.endsWith('/')) pattern += '*';
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = '^' + body.slice(1);
      else if (body.startsWith('^')) body = '\\' + body;
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** The files matching any of `include` (all when undefined) and none of `exclude`, in order. */
export function filterFiles(files: readonly string[], include?: readonly string[], exclude?: readonly string[]): string[] {
  const inc = include?.map(fnmatchRegExp);
  const exc = exclude?.map(fnmatchRegExp) ?? [];
  return files.filter((f) => (!inc || inc.some((r) => r.test(f))) && !exc.some((r) => r.test(f)));
}
