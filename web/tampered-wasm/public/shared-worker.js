// A shared worker: answers every page that connects.
onconnect = (event) => {
  const port = event.ports[0];
  port.postMessage("ran");
};
