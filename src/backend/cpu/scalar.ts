// Scalar helper functions that generated CPU loops may call by name (see codegen.ts).
// Each follows NumPy's result for the cases where JS's own Math differs from C.
import { F16_TABLE, toF16 } from '../../core/half.js';

const fr = Math.fround;

/** Round half to even, as NumPy's rint. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// round(x, decimals) as NumPy: scale, rint, unscale, each step rounded in the array's own
// precision (float32 for float32 and bfloat16, float16 through float32 as NumPy's half loops).
// Negative decimals divide by the power of ten instead of multiplying by its inverse.
function roundDec(x: number, d: number): number {
  if (d >= 0) { const f = 10 ** d; return rint(x * f) / f; }
  const f = 10 ** -d;
  return rint(x / f) * f;
}
function roundDec32(x: number, d: number): number {
  if (d >= 0) { const f = fr(10 ** d); return fr(rint(fr(x * f)) / f); }
  const f = fr(10 ** -d);
  return fr(rint(fr(x / f)) * f);
}
const h16 = (v: number): number => F16_TABLE[toF16(fr(v))];
function roundDec16(x: number, d: number): number {
  if (d >= 0) { const f = h16(10 ** d); return h16(rint(h16(x * f)) / f); }
  const f = h16(10 ** -d);
  return h16(rint(h16(x / f)) * f);
}
/** Integers round only for negative decimals, through float64 as NumPy does. */
function roundInt(x: number, d: number): number { const f = 10 ** -d; return rint(x / f) * f; }
function roundBig(x: bigint, d: number): bigint { const f = 10 ** -d; return BigInt(rint(Number(x) / f) * f); }

// Float floor division and remainder as NumPy's npy_divmod: the remainder takes the
// divisor's sign (a zero remainder too), and the quotient is snapped to an integer so that
// a == b * floorDiv + rem holds closely; division by zero gives a / b and NaN.
function floorDivFloat(a: number, b: number): number {
  if (b === 0) return a / b;
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1;
  if (div === 0) { const q = a / b; return q < 0 || (q === 0 && 1 / q < 0) ? -0 : 0; }
  const f = Math.floor(div);
  return div - f > 0.5 ? f + 1 : f;
}
function remFloat(a: number, b: number): number {
  const mod = a % b;
  if (b === 0) return mod;
  if (mod !== 0) return (b < 0) !== (mod < 0) ? mod + b : mod;
  return b < 0 ? -0 : 0;
}

// Integer arithmetic with NumPy's conventions: division by zero gives 0, results wrap.
function remInt(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}
function floorDivBig(a: bigint, b: bigint): bigint {
  if (b === 0n) return 0n;
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}
function remBig(a: bigint, b: bigint): bigint {
  if (b === 0n) return 0n;
  const r = a % b;
  return r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r;
}

/** C's pow: 1 to any power (NaN included) and -1 to +-Inf are 1, where Math.pow gives NaN. */
function powFloat(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}
/** Integer power by squaring, wrapping at 32 bits (stores wrap narrower types further). */
function powInt(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 ? -1 : 1) : 0;
  let r = 1, base = a | 0, e = b;
  while (e > 0) { if (e & 1) r = Math.imul(r, base); base = Math.imul(base, base); e = Math.floor(e / 2); }
  return r;
}
function powBig(a: bigint, b: bigint): bigint {
  if (b < 0n) return a === 1n ? 1n : a === -1n ? (b % 2n ? -1n : 1n) : 0n;
  let r = 1n, base = a, e = b;
  while (e > 0n) { if (e & 1n) r = BigInt.asIntN(64, r * base); base = BigInt.asIntN(64, base * base); e >>= 1n; }
  return r;
}
// Shifts past the width (or by a negative amount) give 0, or -1 for negative signed values.
function shlBig(a: bigint, b: bigint): bigint { return b >= 64n || b < 0n ? 0n : BigInt.asIntN(64, a << b); }
function shrBig(a: bigint, b: bigint): bigint { return b >= 64n || b < 0n ? (a < 0n ? -1n : 0n) : a >> b; }

/** float -> 64-bit integer, truncating (NaN and Inf, which have no integer, give 0). */
function toBig(x: number): bigint { return Number.isFinite(x) ? BigInt(Math.trunc(x)) : 0n; }

/**
 * A 64-bit integer rounded once (to nearest even) to `bits` significant bits, as a number.
 * Number(x) alone would round to 53 bits first and then again on the float32 store.
 */
function bigToFloat(x: bigint, bits: number): number {
  const n = Number(x);
  if (Math.abs(n) <= 2 ** bits) return n; // exact already
  const m = x < 0n ? -x : x;
  let e = Math.floor(Math.log2(Math.abs(n))); // bit length - 1, maybe off by one from rounding
  if (m >> BigInt(e) === 0n) e--;
  else if (m >> BigInt(e + 1) !== 0n) e++;
  const shift = BigInt(e + 1 - bits);
  let q = m >> shift;
  const rest = m - (q << shift), half = 1n << (shift - 1n);
  if (rest > half || (rest === half && (q & 1n) === 1n)) q++;
  const r = Number(q) * 2 ** Number(shift);
  return x < 0n ? -r : r;
}

/** log(exp(a) + exp(b)) without overflow; NaN in, NaN out (as NumPy). */
function logaddexp(a: number, b: number): number {
  if (a === b) return a + Math.LN2; // also equal infinities, which the difference below would make NaN
  const d = a - b;
  if (d > 0) return a + Math.log1p(Math.exp(-d));
  if (d <= 0) return b + Math.log1p(Math.exp(d));
  return d;
}

/** erf to about 1e-16 relative (W. J. Cody's rational approximations). */
function erf(x: number): number {
  if (x !== x) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.5) {
    const t = x * x;
    const p = ((((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947);
    const q = ((((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062);
    return x * p / q;
  }
  return x > 0 ? 1 - erfc(ax) : erfc(ax) - 1;
}

const ERFC_P = [2.15311535474403846e-8, 0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.952221241769090, 1712.04761263407058, 2051.07837782607147, 1230.33935479799725];
const ERFC_Q = [1, 15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942];
const ERFC_P2 = [0.0163153871373020978, 0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766, 6.58749161529837803e-4];
const ERFC_Q2 = [1, 2.56852019228982242, 1.87295284992346725, 0.527905102951428412, 0.0605183413124413191, 0.00233520497626869185];

function erfc(ax: number): number {
  if (ax >= 27) return 0;
  let r: number;
  if (ax < 4) {
    let num = ERFC_P[0], den = ERFC_Q[0];
    for (let i = 1; i < 9; i++) { num = num * ax + ERFC_P[i]; den = den * ax + ERFC_Q[i]; }
    r = num / den;
  } else {
    const z = 1 / (ax * ax);
    let num = ERFC_P2[0], den = ERFC_Q2[0];
    for (let i = 1; i < 6; i++) { num = num * z + ERFC_P2[i]; den = den * z + ERFC_Q2[i]; }
    r = (1 / Math.sqrt(Math.PI) - z * num / den) / ax;
  }
  // exp(-x^2) in two parts keeps its precision
  const xs = Math.trunc(ax * 16) / 16;
  return Math.exp(-xs * xs) * Math.exp(-(ax - xs) * (ax + xs)) * r;
}

const ERFINV_A = [-1.685059138182016589e-19, 1.2858480715256400167e-18, 1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17, 6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14, 2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11, 1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08, 4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05, 0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533, 0.24015818242558961693, 1.6536545626831027356];
const ERFINV_B = [9.0756561938885390979e-08, -2.7517406297064545428e-07, 1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06, 2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05, 6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796, 0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066, -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334, 3.0838856104922207635];
const ERFINV_C = [-2.5556418169965252055e-10, 1.5076572693500548083e-09, -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08, 2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07, -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05, 7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026, 1.0103004648645343977, 4.8499064014085844221];

function horner(x0: number, cs: number[], w: number): number {
  let x = x0;
  for (const c of cs) x = c + x * w;
  return x;
}

/** Inverse of erf: an initial guess (Giles 2010) refined by two Newton steps. */
function erfinv(y: number): number {
  if (y !== y || y < -1 || y > 1) return NaN;
  if (y === 1) return Infinity;
  if (y === -1) return -Infinity;
  const w = -Math.log((1 - y) * (1 + y));
  let x: number;
  if (w < 6.25) x = horner(-3.6444120640178196996e-21, ERFINV_A, w - 3.125);
  else if (w < 16) x = horner(2.2137376921775787049e-09, ERFINV_B, Math.sqrt(w) - 3.25);
  else x = horner(-2.7109920616438573243e-11, ERFINV_C, Math.sqrt(w) - 5);
  x *= y;
  for (let i = 0; i < 2; i++) x -= (erf(x) - y) / (2 / Math.sqrt(Math.PI) * Math.exp(-x * x));
  return x;
}

export const helpers = {
  rint, roundDec, roundDec32, roundDec16, roundInt, roundBig, floorDivFloat, remFloat, remInt, floorDivBig, remBig,
  powFloat, powInt, powBig, shlBig, shrBig, toBig, bigToFloat, logaddexp, erf, erfinv,
};
export type Helpers = typeof helpers;
