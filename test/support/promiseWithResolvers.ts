// Node 20 lacks Promise.withResolvers (Node 22 has it); nock's interceptors use it.
const promise = Promise as PromiseConstructor & { withResolvers?: unknown };
promise.withResolvers ??= <T>() => {
  let resolve!: (value: T | PromiseLike<T>) => void;
  let reject!: (reason?: unknown) => void;
  const created = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise: created, resolve, reject };
};
