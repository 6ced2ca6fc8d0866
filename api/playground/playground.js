// The Cutout playground: plain browser JavaScript, no build step. It calls this server's
// POST /v1/remove-background with the key the user pastes, shows before/after on a
// checkerboard, and offers the PNG for download.

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "cutout.apiKey";
const SLIDERS = ["light-x", "light-y", "light-z", "light-size", "opacity"];

let messages = {};
let chosenFile = null;
let resultUrl = null;

async function loadMessages() {
  const response = await fetch("messages.json");
  messages = await response.json();
}

function friendly(code, detail) {
  const text = messages[code] || "The request failed.";
  return detail && detail !== text ? `${text} (${code}: ${detail})` : text;
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

function setStatus(text) {
  $("status").textContent = text;
}

function chooseFile(file) {
  if (!file) return;
  chosenFile = file;
  $("file-name").textContent = `${file.name} (${Math.round(file.size / 1024)} KB)`;
  const before = $("before");
  before.src = URL.createObjectURL(file);
  before.hidden = false;
}

function shadowParam() {
  if (!$("shadow").checked) return null;
  const value = (id) => Number($(id).value);
  const shadow = { opacity: value("opacity") };
  if (!$("auto-light").checked) {
    shadow.light_source = {
      size: value("light-size"),
      position: { x: value("light-x"), y: value("light-y"), z: value("light-z") },
    };
  }
  return shadow;
}

function syncShadowControls() {
  const on = $("shadow").checked;
  for (const id of [...SLIDERS, "auto-light"]) $(id).disabled = !on;
  for (const id of ["light-x", "light-y", "light-z", "light-size"]) {
    if (on && $("auto-light").checked) $(id).disabled = true;
  }
  $("run").textContent = on ? "Remove background (4 credits)" : "Remove background (1 credit)";
}

function buildBody() {
  const form = new FormData();
  const url = $("image-url").value.trim();
  if (chosenFile) form.append("image", chosenFile, chosenFile.name);
  else if (url) form.append("image_url", url);
  form.append("format", "png");
  const shadow = shadowParam();
  if (shadow) form.append("shadow", JSON.stringify(shadow));
  return form;
}

async function run() {
  showError("");
  const key = $("api-key").value.trim();
  if (!key) {
    showError(friendly("invalid_auth_token"));
    return;
  }
  if (!chosenFile && !$("image-url").value.trim()) {
    showError(friendly("missing_parameter"));
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  $("run").disabled = true;
  document.body.dataset.result = "pending";
  setStatus("Working…");
  const started = performance.now();
  try {
    const response = await fetch("/v1/remove-background", {
      method: "POST",
      headers: { "X-API-Key": key, Accept: "image/png" },
      body: buildBody(),
    });
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch { /* not JSON: keep the generic text */ }
      const code = body.error_code || "internal_error";
      const retry = response.headers.get("Retry-After");
      showError(friendly(code, body.error) + (retry ? ` Retry after ${retry} s.` : ""));
      document.body.dataset.errorCode = code;
      document.body.dataset.result = "error";
      setStatus("");
      return;
    }
    const blob = await response.blob();
    showResult(blob);
    $("credits-charged").textContent = response.headers.get("X-Credits-Charged") ?? "–";
    $("credits-remaining").textContent = response.headers.get("X-Credits-Remaining") ?? "–";
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`Done in ${seconds} s.`);
    delete document.body.dataset.errorCode;
  } catch (error) {
    showError(`Could not reach the server: ${error.message}`);
    document.body.dataset.result = "error";
    setStatus("");
  } finally {
    $("run").disabled = false;
  }
}

function showResult(blob) {
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = URL.createObjectURL(blob);
  const after = $("after");
  after.onload = () => { document.body.dataset.result = "ready"; };
  after.src = resultUrl;
  after.hidden = false;
  const link = $("download");
  const base = chosenFile ? chosenFile.name.replace(/\.[^.]+$/, "") : "cutout";
  link.href = resultUrl;
  link.download = `${base}-cutout.png`;
  link.hidden = false;
}

function wireDrop() {
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    chooseFile(event.dataTransfer.files[0]);
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") $("file").click();
  });
  $("file").addEventListener("change", (event) => chooseFile(event.target.files[0]));
}

function wireControls() {
  for (const id of SLIDERS) {
    const input = $(id);
    const output = document.querySelector(`output[for="${id}"]`);
    input.addEventListener("input", () => { output.textContent = input.value; });
  }
  $("shadow").addEventListener("change", syncShadowControls);
  $("auto-light").addEventListener("change", syncShadowControls);
  $("image-url").addEventListener("input", () => {
    if ($("image-url").value.trim()) {
      chosenFile = null;
      $("file").value = "";
      $("file-name").textContent = "";
      $("before").src = $("image-url").value.trim();
      $("before").hidden = false;
    }
  });
  $("run").addEventListener("click", run);
  $("api-key").value = sessionStorage.getItem(KEY_STORAGE) || "";
}

wireDrop();
wireControls();
syncShadowControls();
await loadMessages();
document.body.dataset.ready = "true";
