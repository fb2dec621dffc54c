// The login page: sends the form to POST /api/v1/login and opens the app on success.
// Self-contained (no imports) so that the login page needs only public files.

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const button = document.getElementById("login-button");

function showError(text) {
  error.textContent = text;
  error.hidden = false;
}

async function explain(response) {
  if (response.status === 401) return "Wrong user name or password.";
  if (response.status === 429) {
    const wait = Number(response.headers.get("Retry-After")) || 60;
    return `Too many attempts. Wait ${wait} seconds, then try again.`;
  }
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
  } catch {
    // not JSON: fall through to the status line
  }
  return `Login failed (HTTP ${response.status}). Try again in a moment.`;
}

form.addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  error.hidden = true;
  button.disabled = true;
  try {
    const response = await fetch("/api/v1/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        username: form.elements.username.value.trim(),
        password: form.elements.password.value,
      }),
      credentials: "same-origin",
    });
    if (response.ok) {
      window.location.replace("/");
      return;
    }
    showError(await explain(response));
  } catch {
    showError("camvault did not answer. Check that it is running, then try again.");
  } finally {
    button.disabled = false;
  }
});
