// The day picker: a month grid in the viewer's zone. "Today" and the future cut-off come from
// that zone, never from the server's clock.

import { clear, el } from "./dom.js";
import { monthGrid, monthTitle, parseDay, today, weekdayNames } from "./dates.js";

export class Calendar {
  constructor(container, button, zone, onPick) {
    this.container = container;
    this.button = button;
    this.zone = zone;
    this.onPick = onPick;
    this.selected = "";
    this.month = null;
    button.addEventListener("click", () => (this.container.hidden ? this.open() : this.close()));
    container.addEventListener("click", (clicked) => this.handle(clicked));
    container.addEventListener("keydown", (pressed) => {
      if (pressed.key === "Escape") {
        pressed.stopPropagation();
        this.close();
        this.button.focus();
      }
    });
  }

  open() {
    const shown = parseDay(this.selected) || parseDay(today(this.zone));
    this.month = { year: shown.year, month: shown.month };
    this.render();
    this.container.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
  }

  close() {
    this.container.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  select(day) {
    this.selected = day || "";
  }

  handle(clicked) {
    const target = clicked.target.closest("button");
    if (!target) return;
    const { day, step, action } = target.dataset;
    if (step) {
      this.shift(Number(step));
    } else if (day) {
      this.pick(day);
    } else if (action === "today") {
      this.pick(today(this.zone));
    } else if (action === "all") {
      this.pick("");
    }
  }

  pick(day) {
    this.selected = day;
    this.close();
    this.onPick(day);
  }

  shift(step) {
    let { year, month } = this.month;
    month += step;
    if (month < 1) [year, month] = [year - 1, 12];
    if (month > 12) [year, month] = [year + 1, 1];
    this.month = { year, month };
    this.render();
  }

  render() {
    const { year, month } = this.month;
    const now = today(this.zone);
    clear(this.container);
    const head = el(
      "div",
      { className: "calendar-head" },
      el("button", { type: "button", "data-step": "-1", "aria-label": "Previous month" }, "‹"),
      el("span", { className: "calendar-month" }, monthTitle(year, month)),
      el("button", { type: "button", "data-step": "1", "aria-label": "Next month" }, "›"),
    );
    const grid = el("table", { className: "calendar-grid" });
    grid.append(el("tr", {}, ...weekdayNames().map((name) => el("th", { scope: "col" }, name))));
    for (const week of monthGrid(year, month)) {
      const row = el("tr");
      for (const day of week) {
        row.append(el("td", {}, day ? this.dayButton(day, now) : ""));
      }
      grid.append(row);
    }
    const foot = el(
      "div",
      { className: "calendar-foot" },
      el("button", { type: "button", "data-action": "today" }, "Today"),
      el("button", { type: "button", "data-action": "all" }, "All days"),
    );
    this.container.append(head, grid, foot);
  }

  dayButton(day, now) {
    return el(
      "button",
      {
        type: "button",
        "data-day": day,
        className: day === now ? "today" : "",
        "aria-current": day === now ? "date" : null,
        "aria-pressed": day === this.selected ? "true" : "false",
        disabled: day > now,
      },
      String(Number(day.slice(8))),
    );
  }
}
