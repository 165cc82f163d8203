// A dedicated worker: answers the page once it runs.
postMessage("ran");
