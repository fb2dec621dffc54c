// Times in the viewer's zone. Instants from the API are UTC; days, "today" and the labels
// shown come from the zone the browser runs in (Intl), so DST days have their real length.
// Civil days are "YYYY-MM-DD" strings; calendar arithmetic on them is done in UTC, where
// every day has 24 hours.

export function viewerZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

const dayFormats = new Map();

function dayFormat(zone) {
  if (!dayFormats.has(zone)) {
    dayFormats.set(
      zone,
      new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }),
    );
  }
  return dayFormats.get(zone);
}

export function localDay(instant, zone) {
  const parts = Object.fromEntries(dayFormat(zone).formatToParts(instant).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export function today(zone) {
  return localDay(new Date(), zone);
}

export function parseDay(day) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || "");
  if (!match) return null;
  const [year, month, date] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const noon = new Date(Date.UTC(year, month - 1, date, 12));
  return noon.getUTCDate() === date && noon.getUTCMonth() === month - 1 ? { year, month, date } : null;
}

export function formatDay(year, month, date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${year}-${pad(month)}-${pad(date)}`;
}

export function addDays(day, count) {
  const { year, month, date } = parseDay(day);
  const moved = new Date(Date.UTC(year, month - 1, date + count, 12));
  return formatDay(moved.getUTCFullYear(), moved.getUTCMonth() + 1, moved.getUTCDate());
}

function civilNoon(day) {
  const { year, month, date } = parseDay(day);
  return new Date(Date.UTC(year, month - 1, date, 12));
}

const longDay = new Intl.DateTimeFormat(undefined, {
  weekday: "long",
  year: "numeric",
  month: "long",
  day: "numeric",
  timeZone: "UTC",
});

export function dayTitle(day, zone) {
  const now = today(zone);
  const label = longDay.format(civilNoon(day));
  if (day === now) return `Today · ${label}`;
  if (day === addDays(now, -1)) return `Yesterday · ${label}`;
  return label;
}

export function shortDay(day) {
  return new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  }).format(civilNoon(day));
}

export function timeOfDay(instant, zone) {
  return new Intl.DateTimeFormat(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZone: zone,
  }).format(instant);
}

export function dateTime(instant, zone) {
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium",
    timeStyle: "medium",
    timeZone: zone,
  }).format(instant);
}

export function monthTitle(year, month) {
  return new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, month - 1, 15)),
  );
}

// Monday-first weeks of a month: an array of weeks, each 7 days or null for padding.
export function monthGrid(year, month) {
  const first = new Date(Date.UTC(year, month - 1, 1, 12));
  const lead = (first.getUTCDay() + 6) % 7;
  const length = new Date(Date.UTC(year, month, 0, 12)).getUTCDate();
  const cells = [...Array(lead).fill(null)];
  for (let date = 1; date <= length; date += 1) cells.push(formatDay(year, month, date));
  while (cells.length % 7) cells.push(null);
  const weeks = [];
  for (let start = 0; start < cells.length; start += 7) weeks.push(cells.slice(start, start + 7));
  return weeks;
}

export function weekdayNames() {
  const format = new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" });
  // 2024-01-01 was a Monday
  return Array.from({ length: 7 }, (_, i) => format.format(new Date(Date.UTC(2024, 0, 1 + i, 12))));
}

export function hoursSince(instant, now = new Date()) {
  return (now - instant) / 3_600_000;
}
