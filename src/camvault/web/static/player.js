// The player: one event at a time over the timeline's list, with newer/older, the original or
// the small version, download, and keyboard shortcuts (← newer, → older, Space, Esc).

import { mediaUrl } from "./api.js";
import { byId, clear, el } from "./dom.js";
import { dateTime } from "./dates.js";
import { fileName } from "./timeline.js";

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
    this.index = -1;
    this.quality = preferredQuality();
    byId("player-close").addEventListener("click", () => this.close());
    byId("player-prev").addEventListener("click", () => this.step(-1));
    byId("player-next").addEventListener("click", () => this.step(1));
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

  get event() {
    return this.timeline.events[this.index];
  }

  get isOpen() {
    return !this.root.hidden;
  }

  open(index) {
    this.opener = document.activeElement;
    this.root.hidden = false;
    document.body.classList.add("modal-open");
    this.show(index);
    this.root.focus();
  }

  close() {
    if (!this.isOpen) return;
    this.stopMedia();
    this.root.hidden = true;
    document.body.classList.remove("modal-open");
    if (this.opener && this.opener.focus) this.opener.focus();
  }

  async step(delta) {
    let target = this.index + delta;
    if (target >= this.timeline.events.length && this.timeline.hasMore()) await this.timeline.more();
    target = Math.max(0, Math.min(target, this.timeline.events.length - 1));
    if (target !== this.index) this.show(target);
  }

  setQuality(quality) {
    this.quality = quality;
    window.localStorage.setItem(QUALITY_KEY, quality);
    const video = this.root.querySelector("video");
    const resume = video ? { at: video.currentTime, playing: !video.paused } : null;
    this.show(this.index, resume);
  }

  show(index, resume = null) {
    this.index = index;
    const event = this.event;
    const small = event.kind === "record" && Boolean(event.small_key);
    const version = small && this.quality === "small" ? "small" : "original";
    byId("player-title").textContent = event.camera;
    byId("player-when").textContent = dateTime(new Date(event.capture_time), this.zone);
    byId("player-file").textContent = fileName(event);
    byId("player-prev").disabled = index <= 0;
    byId("player-next").disabled = index >= this.timeline.events.length - 1 && !this.timeline.hasMore();
    byId("quality-small").disabled = !small;
    byId("quality-small").title = small ? "" : "No small version of this event";
    byId("quality-original").setAttribute("aria-pressed", String(version === "original"));
    byId("quality-small").setAttribute("aria-pressed", String(version === "small"));
    const download = byId("player-download");
    download.href = `${mediaUrl(event.id, "original")}?download=1`;
    download.setAttribute("download", fileName(event));
    this.stopMedia();
    byId("player-media").append(this.media(event, version, resume));
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
    };
    const action = actions[pressed.key];
    if (!action) return;
    pressed.preventDefault();
    action();
  }
}
