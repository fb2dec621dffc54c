// The app's entry: checks the session, wires the header, the filters, the timeline, the player
// and the camera overview, and follows the address (#/timeline?camera=&date=, #/cameras).

import { getJson, logout } from "./api.js";
import { Calendar } from "./calendar.js";
import { renderCameras } from "./cameras.js";
import { byId, el, setStatus } from "./dom.js";
import { parseDay, shortDay, viewerZone } from "./dates.js";
import { Player } from "./player.js";
import { Timeline } from "./timeline.js";

const zone = viewerZone();
const cameraFilter = byId("camera-filter");
const dayButton = byId("day-button");

function route() {
  const hash = window.location.hash.replace(/^#/, "") || "/timeline";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const date = params.get("date") || "";
  return {
    view: path === "/cameras" ? "cameras" : "timeline",
    camera: params.get("camera") || "",
    date: parseDay(date) ? date : "",
  };
}

function go(filters) {
  const params = new URLSearchParams();
  if (filters.camera) params.set("camera", filters.camera);
  if (filters.date) params.set("date", filters.date);
  const query = params.toString();
  window.location.hash = query ? `#/timeline?${query}` : "#/timeline";
}

const timeline = new Timeline(zone, (index) => player.open(index));
const player = new Player(timeline, zone);
const calendar = new Calendar(byId("calendar"), dayButton, zone, (day) => go({ ...route(), date: day }));

function fillCameras(cameras, selected) {
  const names = cameras.map((camera) => camera.name);
  if (selected && !names.includes(selected)) names.push(selected);
  cameraFilter.replaceChildren(
    el("option", { value: "" }, "All cameras"),
    ...names.map((name) => el("option", { value: name }, name)),
  );
  cameraFilter.value = selected;
}

async function loadCameras() {
  try {
    return (await getJson("/cameras")).cameras;
  } catch (error) {
    setStatus(`Could not load cameras: ${error.message}`);
    return [];
  }
}

async function render() {
  const state = route();
  player.close();
  byId("timeline-view").hidden = state.view !== "timeline";
  byId("cameras-view").hidden = state.view !== "cameras";
  byId("nav-timeline").toggleAttribute("aria-current", state.view === "timeline");
  byId("nav-cameras").toggleAttribute("aria-current", state.view === "cameras");
  const cameras = loadCameras(); // in parallel with the first page of events
  if (state.view === "cameras") {
    renderCameras(await cameras, zone);
    return;
  }
  calendar.select(state.date);
  dayButton.textContent = state.date ? shortDay(state.date) : "All days";
  fillCameras([], state.camera);
  const shown = timeline.show(state);
  fillCameras(await cameras, state.camera);
  await shown;
}

async function start() {
  byId("zone-note").textContent = `Days and times in ${zone}`;
  byId("logout").addEventListener("click", () =>
    logout().catch((error) => setStatus(`Could not log out: ${error.message}. Try again.`)),
  );
  cameraFilter.addEventListener("change", () => go({ ...route(), camera: cameraFilter.value }));
  window.addEventListener("hashchange", render);
  document.addEventListener("click", (clicked) => {
    if (!byId("calendar").hidden && !clicked.target.closest(".day-filter")) calendar.close();
  });
  // The page itself was only served to a signed-in visitor; the session names who it is.
  const session = getJson("/session")
    .then((answer) => {
      byId("user").textContent = answer.user;
    })
    .catch(() => {}); // a 401 already went to the login page
  await Promise.all([render(), session]);
  document.body.dataset.ready = "true";
}

start();
