// The camera overview: each camera's newest thumbnail, counts and when it was last heard from.
// A camera with no event for QUIET_HOURS is flagged: it may be offline, unplugged or misaimed.

import { mediaUrl } from "./api.js";
import { byId, clear, el } from "./dom.js";
import { dateTime, hoursSince } from "./dates.js";

export const QUIET_HOURS = 24;

function ago(hours) {
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} min ago`;
  if (hours < 48) return `${Math.round(hours)} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

function counts(camera) {
  const clips = `${camera.record_count} clip${camera.record_count === 1 ? "" : "s"}`;
  const photos = `${camera.snap_count} photo${camera.snap_count === 1 ? "" : "s"}`;
  return `${clips} · ${photos}`;
}

function card(camera, zone, now) {
  const latest = camera.latest;
  const seen = camera.last_seen ? new Date(camera.last_seen) : null;
  const quiet = !seen || hoursSince(seen, now) >= QUIET_HOURS;
  const preview =
    latest && latest.thumbnail_key
      ? el("img", { src: mediaUrl(latest.id, "thumbnail"), alt: `Latest from ${camera.name}`, loading: "lazy" })
      : el("span", { className: "no-preview" }, "no preview");
  const lastSeen = seen
    ? `Last event ${ago(hoursSince(seen, now))} · ${dateTime(seen, zone)}`
    : "No event yet";
  const warning = quiet
    ? el(
        "p",
        { className: "quiet-warning", role: "note" },
        seen
          ? `⚠ Quiet: no event for ${ago(hoursSince(seen, now)).replace(" ago", "")} (more than ${QUIET_HOURS} h)`
          : "⚠ Quiet: this camera has never sent anything",
      )
    : null;
  const link = `#/timeline?${new URLSearchParams({ camera: camera.name })}`;
  return el(
    "a",
    { className: quiet ? "camera-card quiet" : "camera-card", href: link, "data-camera": camera.name },
    el("div", { className: "camera-preview" }, preview),
    el("h2", {}, camera.name),
    el("p", { className: "last-seen" }, lastSeen),
    el("p", { className: "counts" }, counts(camera)),
    warning,
  );
}

export function renderCameras(cameras, zone) {
  const root = byId("camera-cards");
  clear(root);
  const now = new Date();
  byId("quiet-note").textContent =
    `A camera is marked quiet when it has sent no event for ${QUIET_HOURS} hours. Times in ${zone}.`;
  if (!cameras.length) {
    root.append(el("p", { className: "end-note" }, "No cameras yet: add one with `camvault camera add`."));
    return;
  }
  for (const camera of cameras) root.append(card(camera, zone, now));
}
