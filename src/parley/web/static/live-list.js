// The long lists of a page (the inbox, the open alerts: <ol data-live>, web/_lists.py), kept
// current one item at a time. The first screenful comes with the page, the rest when the
// operator scrolls to it: each part is asked for past the order key (data-order) of the last
// item held, which the "more" control at the end names (data-after; hidden when nothing
// follows). The page holds every item up to that key, so an item that changes live goes in its
// place when it falls there, and otherwise comes with the rest. The live stream names the items
// that changed; the page fetches them (or learns they are gone), one request at a time per
// list, so the changes of a burst are fetched together. "ready" (a new connection, after a cut
// too) fetches the items held again.
const SCREENFUL = 50; // as web/_lists.py

// The node did not answer, or refused: a reconnection of the stream fetches the list again.
class Unanswered extends Error {}

class LiveList {
  constructor(list, changed) {
    this.list = list;
    this.name = list.dataset.live;
    this.key = list.dataset.key;
    this.changed = changed;
    this.wanted = Math.max(SCREENFUL, this.items().length); // held at most, when more follow
    this.pending = new Set();
    this.queue = Promise.resolve();
    this.onMessage = (message) => this.heard(message.data);
    this.seeMore = new IntersectionObserver((seen) => {
      if (seen.some((entry) => entry.isIntersecting)) this.loadMore();
    });
    list.addEventListener("click", (event) => {
      if (event.target.closest(".more button")) this.loadMore();
    });
    list.addEventListener("submit", (event) => this.submit(event));
    this.watchMore();
  }

  items(within = this.list) {
    return [...within.querySelectorAll(`:scope > [data-${this.key}]`)];
  }

  item(id) {
    return this.items().find((item) => item.dataset[this.key] === id);
  }

  more(within = this.list) {
    return within.querySelector(":scope > .more");
  }

  // The key past which the rest of the list waits; null when the page holds all of it.
  rest(within = this.list) {
    const more = this.more(within);
    return more.hidden ? null : more.dataset.after;
  }

  setRest(after) {
    const more = this.more();
    more.hidden = after === null;
    delete more.dataset.asked;
    if (after === null) delete more.dataset.after;
    else more.dataset.after = after;
  }

  // One request at a time: each job sees the list as the one before left it.
  run(job) {
    this.queue = this.queue.then(job).catch((error) => {
      if (!(error instanceof Unanswered)) reportError(error);
    });
  }

  heard(data) {
    if (data === "ready") {
      this.run(() => this.reload());
      return;
    }
    for (const id of data.split(" ")) this.pending.add(id);
    this.run(() => this.sync());
  }

  // Where a part of the list is fetched, with the page's own query (the alerts' filter).
  url(path, params) {
    const query = new URLSearchParams(this.list.dataset.query || "");
    for (const [name, value] of params) query.append(name, String(value));
    return `/console/live/${this.name}${path}?${query}`;
  }

  // A part of the list from the node; its count of the whole list is the page's from now on.
  async fetchPart(url, init = {}) {
    let answer;
    try {
      const headers = { "HX-Request": "true" }; // the fragment, not a page to go to
      answer = await fetch(url, { credentials: "same-origin", ...init, headers });
    } catch (error) {
      throw new Unanswered(String(error));
    }
    if (answer.status === 401) {
      location.assign(answer.headers.get("HX-Redirect") || "/console/login");
    }
    if (!answer.ok) throw new Unanswered(`${url}: ${answer.status}`);
    const parsed = document.createElement("template");
    parsed.innerHTML = await answer.text();
    const part = parsed.content.querySelector("ol[data-live]");
    this.list.dataset.total = part.dataset.total;
    return part;
  }

  async reload() {
    const part = await this.fetchPart(this.url("", [["limit", this.wanted]]));
    const focused = this.focused();
    for (const old of this.items()) old.remove();
    this.list.insertBefore(fragmentOf(this.items(part)), this.more());
    this.setRest(this.rest(part));
    this.refocus(focused);
    this.settle();
  }

  // The items named fetched, with those that move up into the places of the ones gone.
  async sync() {
    const ids = [...this.pending];
    this.pending.clear();
    if (!ids.length) return; // fetched with an earlier burst
    if (ids.length > SCREENFUL) return this.reload();
    const rest = this.rest();
    const query = ids.map((id) => ["id", id]);
    if (rest !== null) query.push(["after", rest]); // what moves up into the places of those gone
    const part = await this.fetchPart(this.url("/items", query));
    const found = this.items(part);
    const changed = found.filter((item) => ids.includes(item.dataset[this.key]));
    const gone = ids.filter((id) => !changed.some((item) => item.dataset[this.key] === id));
    for (const id of gone) this.drop(this.item(id));
    if (rest !== null && gone.length) {
      this.extend(found.filter((item) => !changed.includes(item)), this.rest(part));
    }
    for (const item of changed) this.place(item);
    this.settle();
  }

  // An item in its place by its order key, unless it falls past the items held.
  place(item) {
    const old = this.item(item.dataset[this.key]);
    const focused = old?.contains(document.activeElement);
    old?.remove();
    const rest = this.rest();
    if (rest !== null && item.dataset.order > rest) return;
    const next = this.items().find((other) => other.dataset.order > item.dataset.order);
    this.list.insertBefore(item, next || this.more());
    if (focused) item.focus();
    this.trim();
  }

  // No more items than wanted: the last ones go back to the rest of the list.
  trim() {
    const items = this.items();
    if (items.length <= this.wanted) return;
    for (const item of items.slice(this.wanted)) item.remove();
    this.setRest(items[this.wanted - 1].dataset.order);
  }

  // Out of the list; the keyboard moves to the item that takes its place.
  drop(item) {
    if (!item) return;
    const focused = item.contains(document.activeElement);
    const items = this.items();
    const index = items.indexOf(item);
    item.remove();
    if (focused) (items[index + 1] || items[index - 1])?.focus();
  }

  // Back up to the items wanted, from past the last one held, when more follow.
  async refill() {
    const rest = this.rest();
    const missing = this.wanted - this.items().length;
    if (rest === null || missing <= 0) return;
    const part = await this.fetchPart(this.url("", [["after", rest], ["limit", missing]]));
    this.extend(this.items(part), this.rest(part));
  }

  // Items past the last one held, in order, and the key past which the rest now waits.
  extend(items, rest) {
    this.list.insertBefore(fragmentOf(items), this.more());
    this.setRest(rest);
    this.trim();
  }

  loadMore() {
    const more = this.more();
    if (more.hidden || more.dataset.asked) return;
    more.dataset.asked = "1";
    this.wanted = this.items().length + SCREENFUL;
    this.run(async () => {
      await this.refill();
      this.settle();
    });
  }

  // An acknowledgement sent from the list: the item leaves it, and the answer holds the items
  // that move up into the screenful, past the key of the last item held.
  submit(event) {
    const form = event.target;
    const item = form.closest(`[data-${this.key}]`);
    if (!item) return;
    event.preventDefault();
    const id = item.dataset[this.key];
    this.run(async () => {
      if (!this.item(id)) return; // gone meanwhile (acknowledged at another desk)
      const fields = new URLSearchParams(new FormData(form));
      fields.set("after", this.rest() ?? this.items().at(-1).dataset.order);
      fields.set("limit", String(Math.max(1, this.wanted - this.items().length + 1)));
      try {
        const part = await this.fetchPart(form.action, { method: "POST", body: fields });
        this.drop(this.item(id));
        this.extend(this.items(part), this.rest(part));
      } catch (error) {
        if (!(error instanceof Unanswered)) throw error;
        this.pending.add(id); // refused (acknowledged elsewhere already?): as the node has it
        await this.sync();
      }
      this.settle();
    });
  }

  focused() {
    const item = document.activeElement?.closest(`[data-${this.key}]`);
    return item && this.list.contains(item)
      ? { id: item.dataset[this.key], index: this.items().indexOf(item) }
      : null;
  }

  refocus(focused) {
    if (!focused) return;
    const items = this.items();
    (this.item(focused.id) || items[Math.min(focused.index, items.length - 1)])?.focus();
  }

  // After every change: the count, the empty line, the "more" control watched, the page told.
  settle() {
    const shown = this.items().length;
    const count = document.getElementById(`${this.name}-count`);
    count.querySelector(".total").textContent = this.list.dataset.total;
    count.querySelector(".shown").textContent = String(shown);
    this.list.querySelector(":scope > .empty").hidden = shown > 0;
    this.watchMore();
    this.changed();
  }

  // In sight (a tall screen, or scrolled to), the "more" control loads the rest; watched
  // afresh after each change, as one still in sight after a part asks for the next.
  watchMore() {
    this.seeMore.disconnect();
    this.seeMore.observe(this.more());
  }
}

function fragmentOf(nodes) {
  const fragment = document.createDocumentFragment();
  fragment.append(...nodes);
  return fragment;
}

// The live lists of this page; ``listen`` on each new connection of the live stream.
export function liveLists(changed) {
  const lists = [...document.querySelectorAll("ol[data-live]")].map(
    (list) => new LiveList(list, changed),
  );
  return {
    listen(source) {
      // One handler added twice to a source is added once: a reconnection of it adds nothing.
      for (const list of lists) source.addEventListener(list.name, list.onMessage);
    },
  };
}
