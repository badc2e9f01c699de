// The choice of court on the application for judicial confirmation, improved when
// JavaScript runs (the plain radio buttons and region list work without it):
// - the place (a party's domicile, the property's location) is asked only for those
//   grounds,
// - and chosen down the region tree (GET /api/v1/regions?parent=CODE).

const box = document.querySelector(".court-choice");

async function regionsUnder(parent) {
  const url = new URL(box.dataset.regionsUrl, location.href);
  if (parent) url.searchParams.set("parent", parent);
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`regions: ${response.status}`);
  return response.json();
}

function setupPlace() {
  const field = document.getElementById("basis-region-field");
  const radios = [...box.querySelectorAll('input[name="basis"]')];
  const show = () => {
    const chosen = radios.find((r) => r.checked);
    const needsPlace = chosen && chosen.value !== "organisation";
    field.hidden = !needsPlace;
  };
  radios.forEach((r) => r.addEventListener("change", show));
  show();
}

function setupCascade() {
  const plain = document.getElementById("basis-region");
  const cascade = document.getElementById("basis-region-cascade");
  const label = plain.closest(".field").querySelector("label");
  const placeholder = plain.options[0].textContent;

  async function addLevel(parent, depth) {
    [...cascade.querySelectorAll("select")].slice(depth).forEach((s) => s.remove());
    const regions = await regionsUnder(parent);
    if (!regions.length) return;
    const select = document.createElement("select");
    select.setAttribute("aria-label", label.textContent);
    select.append(new Option(placeholder, ""));
    for (const r of regions) select.append(new Option(r.name, r.code));
    select.addEventListener("change", () => {
      // The place is the deepest level picked; the plain select carries it.
      const selects = cascade.querySelectorAll("select");
      plain.value = select.value || (depth > 0 ? selects[depth - 1].value : "");
      if (select.value) addLevel(select.value, depth + 1);
      else [...selects].slice(depth + 1).forEach((s) => s.remove());
    });
    cascade.append(select);
  }

  addLevel("", 0)
    .then(() => {
      label.htmlFor = "";
      cascade.hidden = false;
      plain.hidden = true;
    })
    .catch(() => { /* the plain list stays */ });
}

if (box) {
  setupPlace();
  setupCascade();
}
