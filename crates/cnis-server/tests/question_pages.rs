//! Adding a child as question pages, as a browser without JavaScript
//! would: each page posts the answers so far as hidden fields; a page with
//! a problem is shown again with it; "Change" on "Check your answers"
//! returns to that page and then to the check; nothing is saved until the
//! last page, and the saved draft holds every answer.

mod common;

use std::collections::BTreeMap;

use cnis_core::register::Role;
use common::{Session, add_accounts, servers};

fn unescape(s: &str) -> String {
    s.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// What the page's question form would send as it stands: its hidden and
/// text inputs, and its checked boxes and radios (as a browser sends them).
fn hidden(page: &str) -> BTreeMap<String, String> {
    form_fields(page, false)
}

/// What a "Back" or "Change" button sends: the inputs of the form they
/// belong to (`form="other"`).
fn other(page: &str) -> BTreeMap<String, String> {
    form_fields(page, true)
}

fn form_fields(page: &str, other: bool) -> BTreeMap<String, String> {
    let form = page
        .split("<form")
        .find(|f| f.contains("action=\"/entries/new\"") && f.contains("id=\"other\"") == other)
        .and_then(|f| f.split("</form>").next())
        .unwrap_or("");
    let attr = |tag: &str, name: &str| {
        tag.split(&format!(" {name}=\"")).nth(1).and_then(|v| v.split('"').next()).map(unescape)
    };
    let mut out = BTreeMap::new();
    for part in form.split("<input").skip(1) {
        let tag = part.split('>').next().unwrap_or("");
        let (Some(name), kind) = (attr(tag, "name"), attr(tag, "type").unwrap_or_default()) else { continue };
        let sent = match kind.as_str() {
            "checkbox" | "radio" => tag.contains(" checked"),
            _ => true,
        };
        if sent {
            out.insert(name, attr(tag, "value").unwrap_or_default());
        }
    }
    out
}

/// Presses "Back" or a "Change" button (`value`) on the page.
fn press(s: &Session, page: &str, value: &str) -> (u16, String) {
    assert!(page.contains(&format!("form=\"other\" name=\"action\" value=\"{value}\"")), "no button {value}");
    let mut all = other(page);
    all.remove("csrf");
    all.insert("action".into(), value.into());
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = s.form("/entries/new", &pairs).send().expect("post");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// Posts the page's hidden fields with `fields` over them.
fn answer(s: &Session, page: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut all = hidden(page);
    all.remove("csrf");
    for (k, v) in fields {
        all.insert(k.to_string(), v.to_string());
    }
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = s.form("/entries/new", &pairs).send().expect("post");
    (r.status().as_u16(), r.text().unwrap_or_default())
}

#[test]
fn a_child_is_added_through_question_pages_and_check_your_answers() {
    for server in servers() {
        let people = add_accounts(&server.service);
        let s = Session::sign_in(&server, "caseworker", Role::Caseworker);
        let year =
            (chrono::Utc::now().date_naive().format("%Y").to_string().parse::<i32>().unwrap_or(2026) - 10).to_string();
        let first = s.request("GET", "/entries/new").send().expect("get").text().expect("page");
        assert!(first.contains("About the child") && first.contains("1 of 5"), "{}", server.backend);

        // A page with a problem comes back with it, nothing saved.
        let (code, page) = answer(
            &s,
            &first,
            &[("given_name", "Niamh"), ("family_name", ""), ("dob_day", "31"), ("dob_month", "2"), ("dob_year", &year)],
        );
        assert_eq!(code, 422, "{}", server.backend);
        assert!(page.contains("govuk-error-summary") && page.contains("About the child"), "{}", server.backend);
        assert!(
            page.contains("href=\"#family_name\"") && page.contains("href=\"#dob\""),
            "{}: both named",
            server.backend
        );

        let (code, home) = answer(&s, &page, &[("family_name", "O'Neill"), ("dob_day", "14")]);
        assert_eq!(
            code,
            200,
            "{}: {}",
            server.backend,
            home.split("govuk-error-summary__list").nth(1).unwrap_or("").chars().take(600).collect::<String>()
        );
        assert!(home.contains("Where the child lives"), "{}", server.backend);
        assert_eq!(
            hidden(&home).get("family_name").map(String::as_str),
            Some("O'Neill"),
            "{}: carried as typed",
            server.backend
        );
        let (_, parent) = answer(&s, &home, &[("address", "1 Quay Street"), ("postcode", "XA1 2BC")]);
        assert!(unescape(&parent).contains("The child's parent") && parent.contains("3 of 5"), "{}", server.backend);
        let (_, council) = answer(&s, &parent, &[("parent_name", "Sam Parent"), ("parent_educates", "yes")]);
        assert!(council.contains("How the council knows of the child"), "{}", server.backend);
        // "Back" from the council's page shows the parent's page as answered.
        let (_, back) = press(&s, &council, "back");
        assert!(back.contains("3 of 5") && back.contains("value=\"Sam Parent\""), "{}", server.backend);
        let (_, council) = answer(&s, &back, &[]);
        let (code, bad) = answer(&s, &council, &[("upn", "not a upn"), ("source", "parent_notification")]);
        assert_eq!(code, 422, "{}: the UPN is checked on its page", server.backend);
        let (_, check) = answer(&s, &bad, &[("upn", "")]);
        assert!(check.contains("Check your answers"), "{}", server.backend);
        assert!(unescape(&check).contains("Niamh O'Neill"), "{}", server.backend);
        assert!(unescape(&check).contains("Sam Parent, who provides the child's education"), "{}", server.backend);
        assert_eq!(
            server.service.dashboard(&people["caseworker"]).expect("d").drafts_waiting,
            0,
            "{}: nothing saved yet",
            server.backend
        );

        // "Change" the home: its page, then straight back to the check.
        let (_, change) = press(&s, &check, "change-home");
        assert!(
            change.contains("Where the child lives") && change.contains("name=\"returning\""),
            "{}",
            server.backend
        );
        let (_, check) = answer(&s, &change, &[("address", "2 Quay Street")]);
        assert!(check.contains("Check your answers") && check.contains("2 Quay Street"), "{}", server.backend);

        // Saved: a draft with every answer, and the child's page.
        let mut all = hidden(&check);
        all.remove("csrf");
        all.insert("reason".into(), "parent phoned".into());
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = s.form("/entries/new", &pairs).send().expect("save");
        assert_eq!(r.status().as_u16(), 303, "{}", server.backend);
        let to = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_string();
        let child = to.trim_start_matches("/children/").split('?').next().unwrap_or("").to_string();
        let view = server.service.child(&people["caseworker"], &child).expect("child");
        let c = &view.entries[0].entry.content;
        assert_eq!((c.given_name.as_str(), c.family_name.as_str()), ("Niamh", "O'Neill"), "{}", server.backend);
        assert_eq!(
            (c.dob.as_str(), c.address.as_deref(), c.postcode.as_deref()),
            (format!("{year}-02-14").as_str(), Some("2 Quay Street"), Some("XA1 2BC"))
        );
        assert!(c.parents[0].provides_education, "{}", server.backend);
        assert_eq!(view.entries[0].entry.source.code(), "parent_notification", "{}", server.backend);
    }
}
