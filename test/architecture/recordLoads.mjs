// Module hooks (they run on Node's hooks thread): report every URL loaded to the port the
// registering thread passed in. Plain JavaScript, because tsx does not reach that thread.
let port;

export function initialize(data) {
  port = data.port;
}

export async function load(url, context, nextLoad) {
  port.postMessage(url);
  return nextLoad(url, context);
}
