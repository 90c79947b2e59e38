// Errors in OpenAI's format: {"error": {"message", "type", "param", "code"}}, with the HTTP
// status the OpenAI API uses for each kind (its clients map statuses to error classes).

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly param: string | null = null, readonly code: string | null = null,
    readonly type = status >= 500 ? 'server_error' : status === 429 ? 'rate_limit_error' : 'invalid_request_error') {
    super(message);
  }

  get body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 for a request field: `param` names it as OpenAI does (`messages[0].role`). */
export const badParam = (param: string, message: string, code = 'invalid_value'): ApiError => new ApiError(400, message, param, code);
