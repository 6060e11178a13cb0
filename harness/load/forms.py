"""Pages over HTTP: a profile's `browser` steps performed without a browser, so that a
pages-only site can be put under load (a browser per user cannot make load).

A page is fetched and parsed (BeautifulSoup); `fill`, `choose`, `check` and `upload` set what
its form fields hold; `click` on a link is a GET of its href, and on a submit button the
submission of its form with every field the form holds (hidden inputs such as CSRF tokens, the
button's own name and value), in the form's method and enctype, to its action. Each actor has
its own cookies; redirects are followed inside `allowed_hosts` only. Locators are read as the
browser channel reads them: CSS, `{role, name}`, `{label}`, `{text}`, `{placeholder}`, `nth`.

What needs a script cannot be done over HTTP: a button that belongs to no form, a locator that
is not CSS. Such a step fails with `NeedsScript`, which says so; nothing is skipped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from bs4 import BeautifulSoup, Comment, Tag
from soupsieve import SelectorSyntaxError

from harness.errors import ConfigError, HarnessError, UnsafeTargetError
from harness.probes.images import image_type
from harness.targets.api import USER_AGENT, Actor, actor_variables, unknown_actor
from harness.targets.browser import (
    MESSAGE_CHARS,
    PAGE_CHANGING,
    PASSIVE_ACTIONS,
    BrowserTarget,
    NoElement,
    PageResult,
    read_pattern,
    step_variables,
)
from harness.targets.mail import Mailbox, run_mail_step
from harness.targets.profile import Profile
from harness.targets.refusals import RefusalRules, Rule
from harness.targets.scope import in_scope
from harness.targets.templates import MissingVariable, describe_locator, render, step_label

MAX_REDIRECTS = 10
DEFAULT_TIMEOUT_S = 15.0
_SPACE = re.compile(r"\s+")
_BUTTON_INPUTS = frozenset({"submit", "image", "button", "reset"})
_UNSENT_INPUTS = _BUTTON_INPUTS | {"file", "checkbox", "radio"}
_LABELABLE = ("input", "select", "textarea", "button")
_ROLES: dict[str, str] = {  # implicit ARIA roles, as CSS
    "button": "button, input[type=submit], input[type=image], input[type=button], "
              "input[type=reset], [role=button]",
    "link": "a[href], [role=link]",
    "textbox": "textarea, input:not([type]), input[type=text], input[type=email], "
               "input[type=search], input[type=tel], input[type=url], [role=textbox]",
    "combobox": "select:not([multiple]), [role=combobox]",
    "listbox": "select[multiple], [role=listbox]",
    "checkbox": "input[type=checkbox], [role=checkbox]",
    "radio": "input[type=radio], [role=radio]",
    "heading": "h1, h2, h3, h4, h5, h6, [role=heading]",
}


class NeedsScript(HarnessError):
    """A step only a browser (one that runs the page's scripts) can perform."""


@dataclass
class Page:
    """Where an actor is: the page's URL (with the fragment a redirect gave), its answer, its
    document, and what the actor's steps put in its fields since it loaded."""

    url: str
    status: int | None
    soup: BeautifulSoup
    values: dict[int, str] = field(default_factory=dict)  # by id() of the field
    checked: dict[int, bool] = field(default_factory=dict)
    files: dict[int, tuple[str, bytes, str]] = field(default_factory=dict)

    def text(self) -> str:
        """The page's visible text (no scripts, styles or hidden elements)."""
        body = self.soup.body or self.soup
        return _SPACE.sub(" ", " ".join(
            s for s in body.find_all(string=True)
            if not isinstance(s, Comment) and _shown(s.parent))).strip()


@dataclass(frozen=True)
class Submission:
    """A form's submission as the browser would send it."""

    method: str
    url: str
    fields: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, tuple[str, bytes, str]], ...] = ()

    def request(self) -> dict[str, Any]:
        """httpx keyword arguments for it (a GET carries the fields in its query)."""
        if self.method == "GET":
            parts = urlsplit(self.url)
            return {"method": "GET", "data": None, "files": None,
                    "url": urlunsplit(parts._replace(query=urlencode(self.fields)))}
        data: dict[str, list[str]] = {}
        for name, value in self.fields:
            data.setdefault(name, []).append(value)
        return {"method": self.method, "url": self.url, "data": data,
                "files": list(self.files) or None}


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _shown(element: Tag | None) -> bool:
    """Whether an element (and every ancestor) is rendered: not hidden by attribute, inline
    style, `type=hidden`, or being a script, style or template."""
    while element is not None and element.name not in (None, "[document]"):
        style = str(element.get("style") or "").replace(" ", "").lower()
        if element.name in ("script", "style", "template", "head", "noscript") \
                or element.has_attr("hidden") or "display:none" in style \
                or (element.name == "input" and str(element.get("type", "")).lower() == "hidden"):
            return False
        element = element.parent
    return True


def _matches(found: str, wanted: str) -> bool:
    """Playwright's default name matching: case-insensitive substring, whitespace normalised."""
    return _norm(wanted).casefold() in _norm(found).casefold()


def _labels(soup: BeautifulSoup, element: Tag) -> list[str]:
    """Every label an element has: `<label for>`, a wrapping `<label>`, aria-label,
    aria-labelledby, then its placeholder and title."""
    found = []
    if element.get("id"):
        found += [label.get_text(" ") for label in soup.find_all("label", attrs={"for":
                                                                               element["id"]})]
    wrapping = element.find_parent("label")
    if wrapping is not None:
        found.append(wrapping.get_text(" "))
    for attribute in ("aria-label", "placeholder", "title"):
        if element.get(attribute):
            found.append(str(element[attribute]))
    for ref in str(element.get("aria-labelledby") or "").split():
        named = soup.find(id=ref)
        if named is not None:
            found.append(named.get_text(" "))
    return found


def accessible_name(soup: BeautifulSoup, element: Tag) -> str:
    """What a role locator's `name` is matched against: aria-label, else a button's or link's
    text (an input button's value, an image's alt), else the element's label."""
    if element.get("aria-label"):
        return str(element["aria-label"])
    kind = str(element.get("type", "")).lower()
    if element.name == "input" and kind in _BUTTON_INPUTS:
        default = "Submit" if kind == "submit" else ""
        return str(element.get("alt") if kind == "image" else element.get("value", default))
    if element.name in ("button", "a") or element.get("role") in ("button", "link", "heading"):
        return element.get_text(" ") or str(element.get("title") or "")
    if element.name and element.name[0] == "h" and element.name[1:].isdigit():
        return element.get_text(" ")
    return " ".join(_labels(soup, element))


def find_all(soup: BeautifulSoup, locator: Any) -> list[Tag]:
    """The elements a (rendered) step locator names, in document order."""
    if isinstance(locator, str):
        if locator.startswith("text="):
            return find_all(soup, {"text": locator[5:].strip("\"'")})
        return _select(soup, locator)
    if "role" in locator:
        found = _select(soup, _ROLES.get(locator["role"], f"[role={locator['role']}]"))
        found = [e for e in found if _shown(e)]
        if locator.get("name") is not None:
            found = [e for e in found if _matches(accessible_name(soup, e), str(locator["name"]))]
        return found
    if "label" in locator:
        return [e for e in soup.find_all(_LABELABLE) if _shown(e) and any(
            _matches(label, str(locator["label"])) for label in _labels(soup, e))]
    if "placeholder" in locator:
        return [e for e in soup.find_all(["input", "textarea"])
                if _matches(str(e.get("placeholder") or ""), str(locator["placeholder"]))]
    if "text" in locator:
        wanted = str(locator["text"])
        hits = [e for e in soup.find_all(True) if _shown(e) and _matches(e.get_text(" "), wanted)]
        return [e for e in hits if not any(_matches(c.get_text(" "), wanted)
                                           for c in e.find_all(True))]  # the innermost
    if "css" in locator:
        return _select(soup, locator["css"])
    raise ConfigError(f"locator {describe_locator(locator)}: expected a CSS selector or one of "
                      "role, label, text, placeholder, css")


def _select(soup: BeautifulSoup, css: str) -> list[Tag]:
    try:
        return list(soup.select(css))
    except SelectorSyntaxError as exc:
        raise NeedsScript(f"locator {css!r} is not a CSS selector a page can be searched with "
                          f"without a browser ({str(exc).splitlines()[0]})") from None


def find(soup: BeautifulSoup, locator: Any) -> Tag:
    """The element a step acts on (`nth`, else the first); NoElement naming the locator."""
    found = find_all(soup, locator)
    nth = int(locator.get("nth", 0)) if isinstance(locator, Mapping) else 0
    if not -len(found) <= nth < len(found):
        raise NoElement(f"no element matches {describe_locator(locator)} on the page")
    return found[nth]


def form_of(soup: BeautifulSoup, element: Tag) -> Tag | None:
    """The form an element belongs to: its `form` attribute's, else the enclosing one."""
    if element.get("form"):
        return soup.find("form", id=str(element["form"]))
    return element.find_parent("form")


def _is_submitter(element: Tag) -> bool:
    kind = str(element.get("type", "")).lower()
    return (element.name == "button" and kind in ("", "submit")) or (
        element.name == "input" and kind in ("submit", "image"))


def submission(page: Page, submitter: Tag) -> Submission:
    """What submitting the submitter's form sends: every field of the form (what the steps
    filled, else what the page holds), the submitter's own name and value, to the action in
    the form's method and enctype (the submitter's `form*` attributes win)."""
    soup = page.soup
    form = form_of(soup, submitter)
    if form is None or not _is_submitter(submitter):
        raise NeedsScript(f"{_describe(submitter)} submits no form: clicking it needs the "
                          "page's scripts")
    method = str(submitter.get("formmethod") or form.get("method") or "get").upper()
    action = submitter.get("formaction") or form.get("action") or ""
    url = urljoin(urldefrag(page.url)[0], str(action))
    multipart = "multipart" in str(submitter.get("formenctype") or form.get("enctype") or "")
    owned = [*form.find_all(_LABELABLE)]
    if form.get("id"):
        owned += [e for e in soup.find_all(_LABELABLE, attrs={"form": form["id"]})
                  if e not in owned]
    fields: list[tuple[str, str]] = []
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for element in owned:
        name = element.get("name")
        if not name or element.has_attr("disabled") or element.find_parent(
                "fieldset", disabled=True) is not None:
            continue
        name = str(name)
        kind = str(element.get("type", "")).lower()
        if element.name == "button" or (element.name == "input" and kind in _BUTTON_INPUTS):
            if element is submitter:
                if kind == "image":
                    fields += [(f"{name}.x", "0"), (f"{name}.y", "0")]
                else:
                    fields.append((name, str(element.get("value", ""))))
        elif element.name == "input" and kind in ("checkbox", "radio"):
            if page.checked.get(id(element), element.has_attr("checked")):
                fields.append((name, str(element.get("value", "on"))))
        elif element.name == "input" and kind == "file":
            chosen = page.files.get(id(element))
            if chosen is not None and multipart:
                files.append((name, chosen))
            elif multipart:
                files.append((name, ("", b"", "application/octet-stream")))
            else:
                fields.append((name, chosen[0] if chosen else ""))
        elif element.name == "select":
            fields += [(name, value) for value in _selected(page, element)]
        elif element.name == "textarea":
            fields.append((name, page.values.get(id(element), element.get_text().removeprefix(
                "\n"))))
        else:
            fields.append((name, page.values.get(id(element), str(element.get("value", "")))))
    return Submission(method, url, tuple(fields), tuple(files))


def _selected(page: Page, select: Tag) -> list[str]:
    if id(select) in page.values:
        return [page.values[id(select)]]
    options = select.find_all("option")
    chosen = [o for o in options if o.has_attr("selected")]
    if not chosen and options and not select.has_attr("multiple"):
        chosen = [options[0]]
    return [_option_value(o) for o in chosen]


def _option_value(option: Tag) -> str:
    return str(option["value"]) if option.has_attr("value") else _norm(option.get_text())


def choose_option(select: Tag, option: str) -> str:
    """The value of the option named by its label (its text), else by its value."""
    options = select.find_all("option")
    for found in options:
        if _norm(found.get_text()) == _norm(option):
            return _option_value(found)
    for found in options:
        if _option_value(found) == option:
            return option
    raise NoElement(f"{_describe(select)} has no option {option!r}")


def _describe(element: Tag) -> str:
    """An element as an error names it: `<button name=x> 'Send'`."""
    attributes = " ".join(f"{k}={v if isinstance(v, str) else ' '.join(v)}"
                          for k, v in element.attrs.items() if k in ("id", "name", "type",
                                                                     "class", "href"))
    text = _norm(element.get_text())[:40]
    return f"<{element.name}{' ' + attributes if attributes else ''}>" + (
        f" {text!r}" if text else "")


class PageDriver:
    """A profile's browser steps over HTTP, one cookie jar per actor (see the module).

    Its results are the browser channel's `PageResult`s, classified by the same refusal rules
    (`browser.rejected`, `browser.validation`)."""

    channel = "browser"
    # The browser channel's own rules, which need only the profile's browser section.
    refusal = BrowserTarget.refusal
    classify = BrowserTarget.classify
    _headers = BrowserTarget._headers

    def __init__(self, profile: Profile, *, transport: httpx.BaseTransport | None = None,
                 mailbox: Mailbox | None = None, timeout: float | None = None) -> None:
        if "browser" not in profile.data:
            raise ConfigError(f"{profile.path}: the profile has no `browser` section to drive "
                              "its pages with")
        self.profile = profile
        self.section: dict[str, Any] = profile.data["browser"]
        self.refusals = RefusalRules(self.section, "browser")
        self.mailbox = mailbox
        self.transport = transport
        self.timeout = timeout or float(self.section.get("timeout_seconds", DEFAULT_TIMEOUT_S))
        self._clients: dict[int, httpx.Client] = {}
        self._pages: dict[int, Page] = {}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self._pages.clear()

    def surface_spec(self, name: str) -> dict[str, Any] | None:
        return self.section.get("surfaces", {}).get(name)

    # --- accounts -----------------------------------------------------------------------------

    def register(self, actor: Actor, account: Mapping[str, str]) -> PageResult:
        """Sign up with the register steps (then the login steps, when the sign-up does not
        sign in); the sign-up's own result (the last step that acts before any mail is
        awaited), or the first that failed."""
        actor.password = str(account.get("password", ""))
        done = self._account_steps("register", self.section["register"], account, actor)
        if done[-1].ok and self.section.get("login"):
            done += self._account_steps("login", self.section["login"], account, actor)
        mailed = next((i for i, r in enumerate(done) if r.method == "MAIL"), len(done))
        acting = [r for r in done[:mailed] if r.method.lower() not in PASSIVE_ACTIONS]
        result = done[-1] if not done[-1].ok or not acting else acting[-1]
        if result.ok:
            self._known(actor, account)
        return result

    def sign_in(self, actor: Actor, account: Mapping[str, str]) -> PageResult:
        """Sign an existing account in with the login steps; the last step's result."""
        if not self.section.get("login"):
            raise ConfigError(f"{self.profile.path}: no browser.login steps to sign "
                              f"{actor.role} in with")
        actor.password = str(account.get("password", ""))
        done = self._account_steps("login", self.section["login"], account, actor)
        if done[-1].ok:
            self._known(actor, account)
        return done[-1]

    @staticmethod
    def _known(actor: Actor, account: Mapping[str, str]) -> None:
        actor.variables.setdefault("account_name", str(account.get("account_name", "")))
        if account.get("email"):
            actor.variables.setdefault("email", str(account["email"]))

    def _account_steps(self, action: str, steps: Iterable[Mapping[str, Any]],
                       account: Mapping[str, str], actor: Actor) -> list[Any]:
        """An account's own steps as that actor; what they read is the actor's."""
        results = []
        for index, spec in enumerate(steps, 1):
            scope = {**self._mail_variables(), **account, **actor.variables,
                     "device_id": actor.device_id}
            results.append(self._step(spec, scope, actor, actor.variables,
                                      step_label(action, index, spec)))
            if not results[-1].ok:
                break
        return results

    # --- steps --------------------------------------------------------------------------------

    def run_steps(self, steps: Iterable[Mapping[str, Any]], variables: dict[str, Any],
                  actors: Mapping[str, Actor], accounts: Mapping[str, Any], *,
                  action: str = "steps") -> list[Any]:
        """Perform steps in order (each as its `as` actor, default the author), binding what
        `read` and `mail` steps find into `variables`; stops after a failed one."""
        results: list[Any] = []
        for index, spec in enumerate(steps, 1):
            label = step_label(action, index, spec)
            if "register" in spec:
                role = spec["register"]
                result = replace(self.register(actors[role], accounts[role]), step=label)
                if result.ok:
                    variables.update(actor_variables(actors[role]))
            elif (unknown := unknown_actor(spec.get("as", "author"), actors)) is not None:
                result = PageResult.not_performed(spec, spec.get("as", "author"), unknown, label)
            else:
                role = spec.get("as", "author")
                scope = {**self._mail_variables(), **variables, **step_variables(actors, role)}
                result = self._step(spec, scope, actors[role], variables, label)
            results.append(result)
            if not result.ok:
                break
        return results

    def _mail_variables(self) -> dict[str, Any]:
        return dict(self.mailbox.variables) if self.mailbox is not None else {}

    def _step(self, spec: Mapping[str, Any], scope: Mapping[str, Any], actor: Actor,
              into: dict[str, Any], label: str) -> Any:
        if "mail" in spec:
            return replace(run_mail_step(self.mailbox, spec["mail"], scope, into, actor.role),
                           step=label)
        action = next(k for k in spec if k != "as")
        started = datetime.now(timezone.utc)
        clock = time.perf_counter()
        status, error = None, None
        try:
            status = self._perform(actor, action, spec[action], scope, into)
        except MissingVariable as exc:
            error = f"{action}: no value for {{{exc.name}}}"
        except HarnessError as exc:
            error = f"{action}: {exc}"
        except httpx.HTTPError as exc:
            error = f"{action}: {type(exc).__name__}: {exc}"
        page = self._pages.get(id(actor))
        refusals = self._refusals_shown(page) if error is None and status is not None \
            and action in PAGE_CHANGING and page is not None else ()
        return PageResult(
            method=action.upper(), url=page.url if page else "", actor=actor.role,
            started=started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            elapsed_s=time.perf_counter() - clock, status=status, error=error,
            rejected=bool(refusals), refusals=refusals, step=label)

    def _perform(self, actor: Actor, action: str, arg: Any, scope: Mapping[str, Any],
                 into: dict[str, Any]) -> int | None:
        """One step; the status of the page it loaded (None when it loaded none)."""
        if action == "goto":
            return self._load(actor, "GET", self._url(str(render(arg, scope))))
        if action == "accept_dialog":
            return None  # a dialog is the page's script; the form posts the same without it
        page = self._page(actor)
        if action == "fill":
            element = find(page.soup, render(arg["field"], scope))
            value = str(render(arg["value"], scope))
            page.values[id(element)] = choose_option(element, value) \
                if element.name == "select" else value
        elif action == "choose":
            element = find(page.soup, render(arg["field"], scope))
            page.values[id(element)] = choose_option(element, str(render(arg["option"], scope)))
        elif action == "check":
            page.checked[id(find(page.soup, render(arg, scope)))] = True
        elif action == "upload":
            data = render(arg["file"], scope)
            if not isinstance(data, bytes):
                raise ConfigError(f"upload {arg['file']!r} is not an image variable")
            mime, ext = image_type(data)
            page.files[id(find(page.soup, render(arg["field"], scope)))] = \
                (f"probe.{ext}", data, mime)
        elif action == "click":
            return self._click(actor, page, find(page.soup, render(arg, scope)))
        elif action == "wait_for":
            self._check_shown(page, arg, scope)
        elif action == "read":
            into[arg["into"]] = self._read_value(page, arg, scope)
        else:
            raise NeedsScript(f"the step {action!r} cannot be performed without a browser")
        return None

    def _click(self, actor: Actor, page: Page, element: Tag) -> int | None:
        link = element if element.name == "a" else element.find_parent("a")
        if link is not None and link.get("href"):
            href = str(link["href"])
            if href.startswith("#"):
                page.url = urldefrag(page.url)[0] + href
                return None
            return self._load(actor, "GET", self._url(urljoin(page.url, href)))
        sent = submission(page, element).request()
        return self._load(actor, sent["method"], self._url(sent["url"]), data=sent["data"],
                          files=sent["files"])

    def _check_shown(self, page: Page, arg: Mapping[str, Any], scope: Mapping[str, Any]) -> None:
        """`wait_for` over HTTP: what it waits for must be on the page as it loaded."""
        if "selector" in arg:
            element = find(page.soup, render(arg["selector"], scope))
            if not _shown(element):
                raise NoElement(f"{describe_locator(arg['selector'])} is on the page but hidden")
        if "text" in arg and _norm(str(render(arg["text"], scope))) not in page.text():
            raise NoElement(f"the page does not say {render(arg['text'], scope)!r}")
        if "url" in arg:
            wanted = str(render(arg["url"], scope))
            if not (fnmatchcase(page.url, wanted) or fnmatchcase(page.url, self._url(wanted))):
                raise NoElement(f"the page is {page.url}, not {wanted}")

    @staticmethod
    def _read_value(page: Page, arg: Mapping[str, Any], scope: Mapping[str, Any]) -> str:
        if arg.get("url"):
            value = page.url
        else:
            element = find(page.soup, render(arg["selector"], scope))
            attribute = arg.get("attribute")
            found = element.get(attribute) if attribute else element.get_text(" ", strip=True)
            value = " ".join(found) if isinstance(found, list) else str(found or "")
        return read_pattern(arg, value)

    def _refusals_shown(self, page: Page) -> tuple[tuple[Rule, str | None], ...]:
        """Every refusal rule the page matches, with what it says (as the browser checks)."""
        rules = self.refusals.every()
        text = page.text() if any(rule.needs_text for rule in rules) else None
        found = []
        for rule in rules:
            if rule.matches(page.status, text=text,
                            visible=lambda loc: any(_shown(e) for e in find_all(page.soup, loc))):
                message = None
                if rule.selector is not None:
                    message = find(page.soup, rule.selector).get_text(" ")
                elif rule.text is not None and text is not None:
                    hit = rule.text.search(text)
                    message = hit.group(0) if hit else None
                found.append((rule, _norm(message or "")[:MESSAGE_CHARS] or None))
        return tuple(found)

    # --- HTTP ---------------------------------------------------------------------------------

    def _page(self, actor: Actor) -> Page:
        page = self._pages.get(id(actor))
        if page is None:
            raise NoElement("no page is open: the steps act on a page before any goto")
        return page

    def _client(self, actor: Actor) -> httpx.Client:
        client = self._clients.get(id(actor))
        if client is None:
            client = self._clients[id(actor)] = httpx.Client(
                transport=self.transport, timeout=self.timeout, follow_redirects=False,
                headers={"User-Agent": USER_AGENT, **self._headers(actor)})
        return client

    def _url(self, url: str) -> str:
        """An absolute URL inside `allowed_hosts` (UnsafeTargetError otherwise)."""
        full = url if urlsplit(url).scheme else urljoin(self.profile.base_url + "/",
                                                        url.lstrip("/"))
        if not in_scope(full, self.profile.allowed_hosts):
            raise UnsafeTargetError(f"refusing {full}: {urlsplit(full).hostname!r} is not in "
                                    "allowed_hosts")
        return full

    def _load(self, actor: Actor, method: str, url: str, *, data: Any = None,
              files: Any = None) -> int:
        """Send a request as the actor and follow its redirects (each hop inside
        `allowed_hosts`); the page it lands on becomes the actor's. A 301/302/303 after a
        POST is followed with a GET, as browsers do."""
        client = self._client(actor)
        sent = url
        for _ in range(MAX_REDIRECTS + 1):
            response = client.request(method, urldefrag(sent)[0], data=data, files=files)
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                break
            target = urljoin(urldefrag(sent)[0], location)
            if not urlsplit(target).fragment and urlsplit(sent).fragment:
                target += "#" + urlsplit(sent).fragment
            sent = self._url(target)
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method, data, files = "GET", None, None
        else:
            raise HarnessError(f"more than {MAX_REDIRECTS} redirects from {url}")
        self._pages[id(actor)] = Page(sent, response.status_code,
                                      BeautifulSoup(response.text, "html.parser"))
        return response.status_code
