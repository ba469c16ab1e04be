/** Runs operations one at a time, in call order; one that fails does not stop the next. */
export function serializer(): <T>(operation: () => Promise<T>) => Promise<T> {
  let queue: Promise<unknown> = Promise.resolve();
  return (operation) => {
    const result = queue.then(operation);
    queue = result.catch(() => {});
    return result;
  };
}
