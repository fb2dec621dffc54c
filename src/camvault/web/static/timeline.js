// The timeline: alarm incidents (one camera's snapshots and clips of one alarm) as cards grouped
// by day in the viewer's zone, newest first, loaded a page at a time by cursor as the reader
// scrolls. Each card shows the incident's face thumbnail. Filters (camera, day) restart it.

import { getJson, mediaUrl } from "./api.js";
import { byId, clear, el, setStatus } from "./dom.js";
import { dayTitle, localDay, shortDay, timeOfDay } from "./dates.js";

const PAGE = 50;
const AHEAD_PX = 800; // start loading the next page this far before the end comes into view
export const FIRST_RENDER = "camvault:first-timeline"; // performance mark: the first page is on screen

let rendered = false;

// The first page's layout is done when the next frame starts: that is the mark bench/api reads.
function markFirstRender() {
  if (rendered) return;
  rendered = true;
  requestAnimationFrame(() => performance.mark(FIRST_RENDER));
}

export function fileName(event) {
  return event.key.slice(event.key.lastIndexOf("/") + 1);
}

export class Timeline {
  constructor(zone, onOpen) {
    this.zone = zone;
    this.onOpen = onOpen;
    this.root = byId("timeline");
    this.end = byId("timeline-end");
    this.sentinel = byId("sentinel");
    this.incidents = [];
    this.filters = { camera: "", date: "" };
    this.generation = 0;
    this.root.addEventListener("click", (clicked) => {
      const item = clicked.target.closest("[data-index]");
      if (item) this.onOpen(Number(item.dataset.index));
    });
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.more();
    }, { rootMargin: `${AHEAD_PX}px` }).observe(this.sentinel);
  }

  show(filters) {
    this.filters = { camera: filters.camera || "", date: filters.date || "" };
    this.generation += 1;
    this.incidents = [];
    this.cursor = null;
    this.done = false;
    this.pending = null;
    this.lastDay = null;
    this.grid = null;
    clear(this.root);
    delete this.root.dataset.shown;
    this.end.textContent = "";
    return this.more();
  }

  hasMore() {
    return !this.done;
  }

  // The next page; while one is on its way, that same request (so callers can wait for it).
  more() {
    if (this.done) return Promise.resolve();
    if (!this.pending) {
      const generation = this.generation;
      this.pending = this.load(generation).finally(() => {
        if (generation !== this.generation) return;
        this.pending = null;
        if (!this.done && this.nearEnd()) this.more();
      });
    }
    return this.pending;
  }

  async load(generation) {
    this.root.setAttribute("aria-busy", "true");
    let page;
    try {
      page = await getJson("/incidents", {
        camera: this.filters.camera,
        date: this.filters.date,
        tz: this.filters.date ? this.zone : "",
        order: "newest",
        limit: PAGE,
        cursor: this.cursor,
      });
    } catch (error) {
      if (generation !== this.generation) return;
      setStatus(`Could not load events: ${error.message}`);
      this.done = true;
      this.end.textContent = "Reload the page to try again.";
      this.settled();
      return;
    }
    if (generation !== this.generation) return;
    setStatus("");
    this.append(page.incidents);
    markFirstRender();
    this.cursor = page.next_cursor;
    if (!page.next_cursor) {
      this.done = true;
      this.end.textContent = this.endNote();
    }
    this.settled();
  }

  settled() {
    this.root.setAttribute("aria-busy", "false");
    // which filters the list now shows: "camera|date" (tests and scripts wait for it)
    this.root.dataset.shown = `${this.filters.camera}|${this.filters.date}`;
  }

  nearEnd() {
    return this.sentinel.getBoundingClientRect().top < window.innerHeight + AHEAD_PX;
  }

  endNote() {
    if (this.incidents.length) return "No older events.";
    const where = this.filters.camera ? ` from ${this.filters.camera}` : "";
    const when = this.filters.date ? ` on ${shortDay(this.filters.date)}` : "";
    return `No events${where}${when}.`;
  }

  append(incidents) {
    for (const incident of incidents) {
      const instant = new Date(incident.start_time);
      const day = localDay(instant, this.zone);
      if (day !== this.lastDay) {
        this.lastDay = day;
        this.grid = el("div", { className: "day-grid" });
        this.root.append(
          el("section", { className: "day", "data-day": day }, el("h2", {}, dayTitle(day, this.zone)), this.grid),
        );
      }
      this.grid.append(card(incident, timeOfDay(instant, this.zone), this.incidents.length));
      this.incidents.push(incident);
    }
  }
}

// The face: the thumbnail of the incident's clip (or snapshot); a snapshot without a thumbnail
// shows itself.
function face(incident) {
  if (!incident.face_event_id) return el("span", { className: "no-preview" }, "no preview");
  const image = el("img", { src: mediaUrl(incident.face_event_id, "thumbnail"), alt: "", loading: "lazy", decoding: "async" });
  if (incident.snap_count && !incident.record_count) {
    image.addEventListener("error", () => {
      image.src = mediaUrl(incident.face_event_id, "original");
    }, { once: true });
  }
  return image;
}

export function describe(incident) {
  const parts = [];
  if (incident.record_count) parts.push(`${incident.record_count} ${incident.record_count === 1 ? "clip" : "clips"}`);
  if (incident.snap_count) parts.push(`${incident.snap_count} ${incident.snap_count === 1 ? "photo" : "photos"}`);
  return parts.join(", ");
}

function card(incident, time, index) {
  const several = incident.event_count > 1;
  const kind = incident.record_count ? "clip" : "photo";
  return el(
    "button",
    {
      type: "button",
      className: several ? "thumb incident" : "thumb",
      "data-index": index,
      "data-id": incident.id,
      "data-count": incident.event_count,
      title: `${incident.camera} · ${describe(incident)}`,
      "aria-label": `${incident.camera} at ${time}, ${describe(incident)}`,
    },
    face(incident),
    el("span", { className: several ? "badge count" : "badge" }, several ? `${incident.event_count} events` : kind),
    el("span", { className: "caption" }, el("span", { className: "time" }, time), el("span", { className: "camera" }, incident.camera)),
  );
}
