// Runs inside the iframe: marks the frame and tells the parent page.
document.documentElement.setAttribute("data-waict-frame", "ran");
parent.postMessage("waict-frame:ran", "*");
