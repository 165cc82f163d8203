// The block page: names the reason and the detail the verifier gave.
const q = new URLSearchParams(location.search);
for (const id of ["url", "reason", "detail", "message"]) {
  document.getElementById(id).textContent = q.get(id) || "—";
}
document.title = `Blocked by WAICT: ${q.get("detail") || q.get("reason") || ""}`;
