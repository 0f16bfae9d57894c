// gRPC status codes used by Firestore, and an error that carries one to the client.
export const Code = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
} as const;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The shape grpc-js turns into a status (code + details) for unary callbacks and stream 'error's. */
export function toServiceError(err: unknown): { code: number; details: string; message: string; name: string } {
  if (err instanceof RpcError) return { code: err.code, details: err.message, message: err.message, name: "RpcError" };
  const message = err instanceof Error ? err.message : String(err);
  return { code: Code.INTERNAL, details: `emulator error: ${message}`, message, name: "Error" };
}
