// The player: one event at a time over the timeline's incidents, walking through an incident's
// events (oldest first) and then on to the next incident; the original or the small version,
// download, keep, and keyboard shortcuts (← previous, → next, k keep, Space, Esc).

import { getJson, mediaUrl, sendJson } from "./api.js";
import { byId, clear, el } from "./dom.js";
import { dateTime } from "./dates.js";
import { describe, fileName } from "./timeline.js";

const QUALITY_KEY = "camvault.quality";

function preferredQuality() {
  const saved = window.localStorage.getItem(QUALITY_KEY);
  if (saved === "original" || saved === "small") return saved;
  return window.matchMedia("(max-width: 600px)").matches ? "small" : "original";
}

export class Player {
  constructor(timeline, zone) {
    this.timeline = timeline;
    this.zone = zone;
    this.root = byId("player");
    this.at = { incident: -1, event: -1 };
    this.members = new Map(); // incident id -> its events, oldest first
    this.quality = preferredQuality();
    this.turn = 0; // bumped on every move: an answer for an older move is dropped
    byId("player-close").addEventListener("click", () => this.close());
    byId("player-prev").addEventListener("click", () => this.step(-1));
    byId("player-next").addEventListener("click", () => this.step(1));
    byId("player-keep").addEventListener("click", () => this.toggleKeep());
    byId("quality-original").addEventListener("click", () => this.setQuality("original"));
    byId("quality-small").addEventListener("click", () => this.setQuality("small"));
    this.root.addEventListener("click", (clicked) => {
      if (clicked.target === this.root) this.close();
    });
    document.addEventListener("keydown", (pressed) => this.key(pressed));
    // Space was handled on keydown: a focused button must not also take it as a click
    document.addEventListener("keyup", (released) => {
      if (this.isOpen && released.key === " ") released.preventDefault();
    });
  }

  get incident() {
    return this.timeline.incidents[this.at.incident];
  }

  get event() {
    const events = this.incident && this.members.get(this.incident.id);
    return events ? events[this.at.event] : undefined;
  }

  get isOpen() {
    return !this.root.hidden;
  }

  open(index) {
    this.opener = document.activeElement;
    this.members.clear(); // fresh events (and keep marks) each time the player opens
    this.root.hidden = false;
    document.body.classList.add("modal-open");
    this.root.focus();
    return this.go(index, 0);
  }

  // Move to incident ``index``'s event ``position`` (-1: its last); a step waits for the move.
  go(index, position) {
    this.moving = this.load(index, position);
    return this.moving;
  }

  close() {
    if (!this.isOpen) return;
    this.turn += 1;
    this.stopMedia();
    this.root.hidden = true;
    document.body.classList.remove("modal-open");
    if (this.opener && this.opener.focus) this.opener.focus();
  }

  async eventsOf(incident) {
    if (!this.members.has(incident.id)) {
      const detail = await getJson(`/incidents/${encodeURIComponent(incident.id)}`);
      this.members.set(incident.id, detail.events);
    }
    return this.members.get(incident.id);
  }

  async load(index, position) {
    const turn = ++this.turn;
    const incident = this.timeline.incidents[index];
    let events;
    try {
      events = await this.eventsOf(incident);
    } catch (error) {
      if (turn === this.turn) this.problem(`Could not load this incident: ${error.message}`);
      return;
    }
    if (turn !== this.turn) return;
    this.at = { incident: index, event: position < 0 ? events.length - 1 : Math.min(position, events.length - 1) };
    this.show();
  }

  async step(delta) {
    await this.moving; // a key pressed while an incident loads counts from where it lands
    const events = this.incident && this.members.get(this.incident.id);
    if (!events) return;
    const within = this.at.event + delta;
    if (within >= 0 && within < events.length) {
      this.turn += 1;
      this.at = { ...this.at, event: within };
      this.show();
      return;
    }
    const list = this.timeline.incidents;
    const target = this.at.incident + delta;
    if (target >= list.length && this.timeline.hasMore()) await this.timeline.more();
    if (target < 0 || target >= list.length) return;
    await this.go(target, delta > 0 ? 0 : -1);
  }

  isFirst() {
    return this.at.incident <= 0 && this.at.event <= 0;
  }

  isLast() {
    const events = this.members.get(this.incident.id);
    const lastIncident = this.at.incident >= this.timeline.incidents.length - 1 && !this.timeline.hasMore();
    return lastIncident && this.at.event >= events.length - 1;
  }

  setQuality(quality) {
    this.quality = quality;
    window.localStorage.setItem(QUALITY_KEY, quality);
    const video = this.root.querySelector("video");
    const resume = video ? { at: video.currentTime, playing: !video.paused } : null;
    this.show(resume);
  }

  show(resume = null) {
    const { event, incident } = this;
    const small = event.kind === "record" && Boolean(event.small_key);
    const version = small && this.quality === "small" ? "small" : "original";
    const count = this.members.get(incident.id).length;
    byId("player-title").textContent = event.camera;
    byId("player-when").textContent = dateTime(new Date(event.capture_time), this.zone);
    byId("player-file").textContent = fileName(event);
    byId("player-incident").textContent =
      count > 1 ? `Event ${this.at.event + 1} of ${count} in this incident (${describe(incident)})` : "";
    byId("player-prev").disabled = this.isFirst();
    byId("player-next").disabled = this.isLast();
    byId("quality-small").disabled = !small;
    byId("quality-small").title = small ? "" : "No small version of this event";
    byId("quality-original").setAttribute("aria-pressed", String(version === "original"));
    byId("quality-small").setAttribute("aria-pressed", String(version === "small"));
    const download = byId("player-download");
    download.href = `${mediaUrl(event.id, "original")}?download=1`;
    download.setAttribute("download", fileName(event));
    this.problem("");
    this.showKeep(event);
    this.stopMedia();
    byId("player-media").append(this.media(event, version, resume));
  }

  showKeep(event) {
    const button = byId("player-keep");
    button.disabled = false;
    button.setAttribute("aria-pressed", String(Boolean(event.keep)));
    button.textContent = event.keep ? "★ Kept" : "☆ Keep";
    button.title = event.keep
      ? "Kept: retention never deletes this event. Click (k) to release it."
      : "Keep this event: retention will never delete it (k)";
  }

  problem(text) {
    byId("player-error").textContent = text;
  }

  // PUT or DELETE /events/{id}/keep; the answer is the event as now cataloged.
  async toggleKeep() {
    const { event, incident } = this;
    const button = byId("player-keep");
    if (!event || button.disabled) return;
    button.disabled = true;
    try {
      const changed = await sendJson(event.keep ? "DELETE" : "PUT", `/events/${encodeURIComponent(event.id)}/keep`);
      const events = this.members.get(incident.id) || [];
      if (events.includes(event)) events[events.indexOf(event)] = changed;
      if (this.event === changed) this.showKeep(changed);
    } catch (error) {
      if (this.event !== event) return;
      this.showKeep(event);
      this.problem(`Could not ${event.keep ? "release" : "keep"} this event: ${error.message}. Reload the page and try again.`);
    }
  }

  media(event, version, resume) {
    if (!event.playable) {
      return el("p", { className: "unplayable-note" }, "camvault could not read this file. Download it to try another player.");
    }
    if (event.kind === "snap") {
      return el("img", { src: mediaUrl(event.id, "original"), alt: `${event.camera} photo` });
    }
    const video = el("video", {
      src: mediaUrl(event.id, version),
      controls: true,
      autoplay: true,
      playsinline: true,
      preload: "auto",
      "data-version": version,
    });
    video.muted = true; // browsers only autoplay muted video; the controls unmute
    if (resume) {
      video.addEventListener("loadedmetadata", () => {
        video.currentTime = Math.min(resume.at, video.duration || resume.at);
        if (!resume.playing) video.pause();
      }, { once: true });
    }
    return video;
  }

  stopMedia() {
    const video = this.root.querySelector("video");
    if (video) {
      video.pause();
      video.removeAttribute("src");
      video.load();
    }
    clear(byId("player-media"));
  }

  togglePlay() {
    const video = this.root.querySelector("video");
    if (!video) return;
    if (video.paused) video.play().catch(() => {});
    else video.pause();
  }

  // Tab and Shift+Tab cycle through the player's controls while it is open.
  keepFocus(pressed) {
    const inside = [...this.root.querySelectorAll("button:not([disabled]), a[href], video[controls]")];
    if (!inside.length) return;
    const [first, last] = [inside[0], inside[inside.length - 1]];
    const at = document.activeElement;
    if (pressed.shiftKey && (at === first || !this.root.contains(at) || at === this.root)) {
      pressed.preventDefault();
      last.focus();
    } else if (!pressed.shiftKey && (at === last || !this.root.contains(at))) {
      pressed.preventDefault();
      first.focus();
    }
  }

  key(pressed) {
    if (!this.isOpen || pressed.altKey || pressed.ctrlKey || pressed.metaKey) return;
    if (pressed.key === "Tab") {
      this.keepFocus(pressed);
      return;
    }
    const actions = {
      ArrowLeft: () => this.step(-1),
      ArrowRight: () => this.step(1),
      " ": () => this.togglePlay(),
      Escape: () => this.close(),
      k: () => this.toggleKeep(),
      K: () => this.toggleKeep(),
    };
    const action = actions[pressed.key];
    if (!action) return;
    pressed.preventDefault();
    action();
  }
}
