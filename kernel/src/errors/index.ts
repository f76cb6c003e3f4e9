export { errorCodes, type ErrorCode } from './codes.ts';
export { SproutError, isSproutError, notImplemented, type ProblemDetail } from './sprout-error.ts';
