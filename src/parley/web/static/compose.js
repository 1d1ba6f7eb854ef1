// A named area picked beside an area's box is written into the box as the JSON the node takes,
// so the box (and a map drawn from it) shows what will be sent; the pick is then cleared, so
// the box alone says what is sent. Without this script the node reads the pick itself.
for (const select of document.querySelectorAll("select[data-area-for]")) {
  select.addEventListener("change", () => {
    const box = document.getElementById(select.dataset.areaFor);
    if (!box || !select.value) return;
    box.value = JSON.stringify({ type: "NamedArea", name: select.value });
    box.dispatchEvent(new Event("input", { bubbles: true }));
    select.value = "";
    box.focus();
  });
}
