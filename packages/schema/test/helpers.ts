export * from '@swan/schema';
export { isSwanError as isSwanErrorLike } from '@swan/core';
