//! The administration pages: a council administrator adds an account and
//! is shown its first password once, which signs in; switching the account
//! off stops it signing in and switching it on lets it again. An auditor
//! reads the audit page: actions and counts, never a child.

mod common;

use cnis_core::register::Role;
use common::{Session, add_accounts, draft, servers};

fn sign_in_status(server: &common::Server, email: &str, password: &str) -> u16 {
    let r = common::client()
        .post(format!("{}/api/v1/session", server.base))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .expect("sign in");
    r.status().as_u16()
}

#[test]
fn an_administrator_adds_an_account_and_switches_it_off_and_on() {
    for server in servers() {
        add_accounts(&server.service);
        let admin = Session::sign_in(&server, "council_admin", Role::CouncilAdmin);
        let r = admin
            .form(
                "/accounts/new",
                &[("name", "Robin Newcomer"), ("email", "Robin@Council.example.invalid"), ("role", "team_manager")],
            )
            .send()
            .expect("add");
        assert_eq!(r.status().as_u16(), 200, "{}", server.backend);
        let page = r.text().expect("page");
        let password = page
            .split("<code id=\"new-password\">")
            .nth(1)
            .and_then(|rest| rest.split("</code>").next())
            .expect("the password is shown")
            .to_string();
        assert_eq!(password.len(), 20, "{}", server.backend);
        let email = "robin@council.example.invalid";
        assert_eq!(sign_in_status(&server, email, &password), 200, "{}: the new account signs in", server.backend);
        let robin = server.service.actor_for(email).expect("actor");
        assert_eq!((robin.role, robin.council.map(|c| c.to_string())), (Role::TeamManager, Some("202".into())));

        // The list shows it; switched off, it cannot sign in; on again, it can.
        let list = admin.request("GET", "/accounts").send().expect("list").text().expect("page");
        assert!(list.contains("Robin Newcomer") && list.contains("Team manager"), "{}", server.backend);
        assert!(!list.contains(&password), "{}: the password is never shown again", server.backend);
        let off = admin.form(&format!("/accounts/{}", robin.user_id), &[("action", "off")]).send().expect("off");
        assert_eq!(off.status().as_u16(), 303, "{}", server.backend);
        assert_eq!(sign_in_status(&server, email, &password), 401, "{}: switched off", server.backend);
        admin.form(&format!("/accounts/{}", robin.user_id), &[("action", "on")]).send().expect("on");
        assert_eq!(sign_in_status(&server, email, &password), 200, "{}: switched on", server.backend);

        // A role the administrator may not give, an address in use, and
        // another council's account are refused.
        let r = admin
            .form("/accounts/new", &[("name", "Ana Lyst"), ("email", "ana@x.example.invalid"), ("role", "auditor")])
            .send()
            .expect("auditor");
        assert_eq!(r.status().as_u16(), 422, "{}", server.backend);
        let r = admin
            .form("/accounts/new", &[("name", "Robin Again"), ("email", email), ("role", "caseworker")])
            .send()
            .expect("again");
        assert_eq!(r.status().as_u16(), 409, "{}", server.backend);
        let other = server.service.actor_for(&common::email("caseworker_other")).expect("other");
        let r = admin.form(&format!("/accounts/{}", other.user_id), &[("action", "off")]).send().expect("other");
        assert!(matches!(r.status().as_u16(), 403 | 404), "{}", server.backend);
    }
}

#[test]
fn the_audit_page_shows_who_did_what_and_never_the_child() {
    for server in servers() {
        let people = add_accounts(&server.service);
        let (_, child) = draft(&server.service, &people["caseworker"], "Audrey", "Secretname");
        server.service.child(&people["caseworker"], &child).expect("read");
        let auditor = Session::sign_in(&server, "auditor", Role::Auditor);
        let r = auditor.request("GET", "/audit").send().expect("audit");
        assert_eq!(r.status().as_u16(), 200, "{}", server.backend);
        let page = r.text().expect("page");
        assert!(page.contains("child.read") && page.contains("entry.create"), "{}", server.backend);
        assert!(!page.contains("Secretname") && !page.contains(&child), "{}: no child", server.backend);
        let earlier = auditor.request("GET", "/audit?after=0").send().expect("first page").text().expect("page");
        assert!(earlier.contains("account.create"), "{}: the first rows are the accounts added", server.backend);
    }
}

#[test]
fn a_shared_service_s_caseworker_changes_council_from_the_header() {
    for server in servers() {
        let people = add_accounts(&server.service);
        let (_, theirs) = draft(&server.service, &people["caseworker_other"], "Bea", "Otherside");
        let mut s = Session::sign_in(&server, "caseworker", Role::Caseworker);
        // One council: no switcher, and the page refuses.
        assert!(!s.request("GET", "/").send().expect("home").text().expect("page").contains("Change council"));
        assert_eq!(s.request("GET", "/council").send().expect("council").status().as_u16(), 403);

        server.service.add_council(None, &common::email("caseworker"), common::la("203")).expect("give 203");
        s = Session::sign_in(&server, "caseworker", Role::Caseworker);
        assert!(s.request("GET", "/").send().expect("home").text().expect("page").contains("Change council"));
        let page = s.request("GET", "/council").send().expect("council").text().expect("page");
        assert!(page.contains("council-203") && page.contains("Greenwich"), "{}", server.backend);
        assert_eq!(s.request("GET", &format!("/children/{theirs}")).send().expect("child").status().as_u16(), 403);

        let r = s.form("/council", &[("council", "203")]).send().expect("switch");
        assert_eq!(r.status().as_u16(), 303, "{}", server.backend);
        let r = s.request("GET", &format!("/children/{theirs}")).send().expect("child");
        assert_eq!(r.status().as_u16(), 200, "{}: now acting for 203", server.backend);
        let r = s.form("/council", &[("council", "330")]).send().expect("not theirs");
        assert_eq!(r.status().as_u16(), 403, "{}", server.backend);
    }
}
