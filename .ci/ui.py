"""The web UI in headless Chromium (issue #19), over the DevTools protocol of browser.py.

    python3 .ci/ui.py check BASE_URL ADMIN_KEY AXE_JS
        drives the pages as a person would: search from the header, filter, paginate, open a
        product and see its price-history chart, switch currency and language, sign in with the
        admin key and run a job; checks that no page loads anything from another origin or
        breaks its Content-Security-Policy; runs axe-core (AXE_JS: axe.min.js from npm) on every
        page and fails on any serious or critical violation.

    python3 .ci/ui.py screenshots BASE_URL OUT_DIR [ADMIN_KEY]
        writes each page at phone (390 px) and desktop (1280 px) width as PNG into OUT_DIR.
"""

import base64
import json
import os
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402


def loaded(b, url, timeout=20):
    b.goto(url)
    time.sleep(0.1)
    if not b.wait_for("document.readyState === 'complete' && !!document.querySelector('main')", timeout):
        raise SystemExit(f"{url} did not load")


def navigate(b, action_js, what, timeout=20):
    """Runs `action_js` (a click or a submit) and waits until the next page has loaded: a mark
    left on the old page's window is gone on the new one."""
    marker = f"m{time.time_ns()}"
    b.eval(f"window.{marker} = 1; {action_js}")
    time.sleep(0.2)
    if not b.wait_for(f"typeof window.{marker} === 'undefined' && document.readyState === 'complete'", timeout):
        raise SystemExit(f"{what} did not load a page")


def submit_and_wait(b, form_js, timeout=20):
    """Submits a form (JS expression) and waits for the next page."""
    navigate(b, f"({form_js}).requestSubmit ? ({form_js}).requestSubmit() : ({form_js}).submit()",
             f"submitting {form_js}", timeout)


def click_and_wait(b, selector, timeout=20):
    navigate(b, f"document.querySelector({json.dumps(selector)}).click()", f"clicking {selector}", timeout)


def text(b, selector="main"):
    return b.eval(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''")


def here(b):
    return b.eval("location.pathname + location.search")


def expect(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def axe(b, axe_js, url):
    """Runs axe-core on the loaded page: the serious and critical violations."""
    b.call("Runtime.evaluate", expression=axe_js)
    r = b.call("Runtime.evaluate", awaitPromise=True, returnByValue=True, expression="""
        axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))""")
    found = r["result"].get("value") or []
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    minor = [v["id"] for v in found if v not in bad]
    print(f"axe {url}: {len(bad)} serious/critical, minor: {minor or 'none'}")
    return bad


def check(base, key, axe_path):
    axe_js = open(axe_path).read()
    b = Browser(width=1280, height=900)
    pages = []
    try:
        # A reader in Bogotá: the browser asks for Spanish.
        b.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": "es-CO,es;q=0.9"})
        # The overview, in Spanish by default.
        loaded(b, f"{base}/")
        expect(b.eval("document.documentElement.lang") == "es", "the overview is in Spanish by default")
        expect("Ofertas" in text(b) and b.eval("document.querySelectorAll('.cards li').length") >= 4,
               "the overview shows the catalog counts")
        pages.append(here(b))
        # Find a product by name from the header's search box: the first word of a category's
        # best offer.
        first = b.eval("document.querySelector('.cards a[href^=\"/categories/\"]').getAttribute('href')")
        loaded(b, base + first)
        expect(b.eval("!!document.querySelector('svg.chart title')"), f"{first} draws the price histogram with a title")
        pages.append(here(b))
        title = b.eval("document.querySelector('.results a').textContent")
        word = title.split()[0]
        b.eval(f"document.querySelector('header form[role=search] input').value = {json.dumps(word)}")
        submit_and_wait(b, "document.querySelector('header form[role=search]')")
        expect(here(b).startswith("/search?q="), f"the header's search box opens /search for {word!r}")
        n = b.eval("document.querySelectorAll('.results li').length")
        expect(n > 0, f"searching {word!r} lists {n} products")
        pages.append(here(b))
        # Filter by a store: every result's best offer is that store's.
        store = b.eval("document.querySelector('select[name=store] option:nth-child(2)').value")
        b.eval(f"document.querySelector('select[name=store]').value = {json.dumps(store)}")
        submit_and_wait(b, "document.querySelector('form.filters')")
        expect(f"store={store}" in here(b), f"the store filter is kept in the URL ({here(b)})")
        stores = b.eval("[...document.querySelectorAll('.results li .price + .muted')].map(e => e.textContent.split(' ·')[0].trim())")
        expect(stores and all(s == store for s in stores), f"filtered by {store}: {len(stores)} results, all from it")
        # Paginate the whole catalog's best prices.
        loaded(b, f"{base}/search")
        expect(b.eval("!!document.querySelector('a[rel=next]')"), "the listing has a next page")
        click_and_wait(b, "a[rel=next]")
        expect("page=2" in here(b) and "Página 2" in text(b, ".pager"), f"the next page is page 2 ({here(b)})")
        # Switch currency: the scope sells in several.
        options = b.eval("[...document.querySelectorAll('select[name=currency] option')].map(o => o.value)")
        expect(len(options) > 1, f"the currency switcher offers {options}")
        current = b.eval("document.querySelector('select[name=currency]').value")
        other = next(o for o in options if o != current)
        b.eval(f"document.querySelector('select[name=currency]').value = {json.dumps(other)}")
        submit_and_wait(b, "document.querySelector('select[name=currency]').form")
        expect(f"currency={other}" in here(b), f"switching to {other} keeps it in the URL")
        shown = b.eval("document.querySelector('select[name=currency]').value")
        expect(shown == other, f"the listing now runs in {other}")
        # Open a product: offers, the history chart with its title and its data table.
        click_and_wait(b, ".results a")
        expect(here(b).startswith("/products/"), f"a result opens its product page ({here(b)})")
        expect(b.eval("!!document.querySelector('svg.chart[role=img] title')"), "the product page draws the price history")
        expect(b.eval("document.querySelectorAll('main table tbody tr').length") > 0, "its offers are listed")
        expect(b.eval("!!document.querySelector('details table')"), "the chart's numbers are in a table too")
        pages.append(here(b))
        # Switch language.
        click_and_wait(b, "a[hreflang=en]")
        expect(b.eval("document.documentElement.lang") == "en" and "Offers, cheapest first" in text(b),
               "the English link shows the page in English")
        loaded(b, f"{base}/stores")
        expect(b.eval("document.documentElement.lang") == "en", "English is remembered on the next page")
        pages.append(here(b))
        loaded(b, f"{base}/quality")
        pages.append(here(b))
        loaded(b, f"{base}/ops")
        expect(not b.eval("!!document.querySelector('form[action$=\"/run\"]')"), "no run button without an admin session")
        # Sign in and run a job.
        loaded(b, f"{base}/login?next=/ops")
        pages.append(here(b))
        b.eval(f"document.querySelector('input[name=key]').value = {json.dumps('wrong-' + key)}")
        submit_and_wait(b, "document.querySelector('form[action=\"/login\"]')")
        expect("Invalid key" in text(b), "a wrong key is refused")
        b.eval(f"document.querySelector('input[name=key]').value = {json.dumps(key)}")
        submit_and_wait(b, "document.querySelector('form[action=\"/login\"]')")
        expect(here(b) == "/ops" and "Sign out" in text(b, "header"), "the admin key signs in and returns to /ops")
        cookies = b.call("Network.getCookies")["cookies"]
        session = next(c for c in cookies if c["name"] == "preciso_session")
        expect(session["httpOnly"] and session["sameSite"] == "Strict", "the session cookie is HttpOnly and SameSite=Strict")
        pages.append(here(b))
        click_and_wait(b, "form[action='/ops/jobs/status/run'] button")
        expect("run=" in here(b) and "Run started" in text(b), f"the status job was started ({here(b)})")
        run_id = here(b).split("run=")[1]
        time.sleep(1)
        loaded(b, f"{base}/ops")
        expect(f"\n{run_id}\t" in text(b) or f"{run_id}\tstatus" in text(b), f"run {run_id} is in the recent runs")
        # Accessibility of every page visited.
        problems = []
        for path in pages:
            loaded(b, base + path)
            problems += [(path, v) for v in axe(b, axe_js, path)]
        foreign = [u for u in b.requests if not (u.startswith(base) or u.startswith("data:"))]
        csp = [m for m in b.console if "Content Security Policy" in m or "Refused to" in m]
        errors = [m for m in b.console if m.startswith("exception:")]
    finally:
        b.close()
    expect(not foreign, f"no request to another origin ({len(b.requests)} requests)")
    expect(not csp, f"no Content-Security-Policy violation {csp}")
    expect(not errors, f"no script error {errors}")
    for path, v in problems:
        print(f"  {path}: {v['impact']} {v['id']}: {v['help']} at {v['nodes']}")
    expect(not problems, "axe-core finds no serious or critical violation on any page")


PAGES = ["/", "/search", "/stores", "/quality", "/ops", "/login"]


def screenshots(base, out, key=None):
    os.makedirs(out, exist_ok=True)
    b = Browser(width=1280, height=900)
    try:
        b.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": "es-CO,es;q=0.9"})
        # A product and a category from the overview, so every page kind is shown.
        loaded(b, f"{base}/")
        category = b.eval("document.querySelector('.cards a[href^=\"/categories/\"]').getAttribute('href')")
        loaded(b, base + category)
        # The product with the most offers on the page, so its chart has several stores.
        product = b.eval("""[...document.querySelectorAll('.results li')].map(li => [
            parseInt((li.innerText.match(/(\\d+) (ofertas|offers)/) || [0, 0])[1]),
            li.querySelector('a').getAttribute('href')]).sort((a, b) => b[0] - a[0])[0][1]""")
        word = b.eval("document.querySelector('.results a').textContent.split(' ')[0]")
        if key:
            loaded(b, f"{base}/login")
            b.eval(f"document.querySelector('input[name=key]').value = {json.dumps(key)}")
            submit_and_wait(b, "document.querySelector('form[action=\"/login\"]')")
        named = [("overview", "/"), ("search", "/search?q=" + urllib.parse.quote(word)),
            ("product", product), ("category", category), ("stores", "/stores"),
            ("quality", "/quality"), ("ops", "/ops")]
        for width, kind in ((1280, "desktop"), (390, "phone")):
            b.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                   deviceScaleFactor=1, mobile=width < 600)
            for name, path in named:
                loaded(b, base + path)
                time.sleep(0.2)
                height = min(int(b.eval("document.documentElement.scrollHeight")), 2600)
                b.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                       deviceScaleFactor=1, mobile=width < 600)
                shot = b.call("Page.captureScreenshot", format="png")
                path_out = os.path.join(out, f"{name}-{kind}.png")
                with open(path_out, "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
                print(f"{path_out} ({width}x{height})")
                b.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                       deviceScaleFactor=1, mobile=width < 600)
    finally:
        b.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        check(sys.argv[2].rstrip("/"), sys.argv[3], sys.argv[4])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "screenshots":
        screenshots(sys.argv[2].rstrip("/"), sys.argv[3], sys.argv[4] if len(sys.argv) == 5 else None)
    else:
        raise SystemExit(__doc__)
