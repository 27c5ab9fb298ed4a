//! A school sends its deletion notices as a file through the page: each
//! good row reaches the council, each bad one is named by line and column,
//! rows in = sent + not sent, and a spreadsheet's own CSV (Windows-1252,
//! day/month/year dates) is read as the school meant it.

mod common;

use cnis_core::register::Role;
use common::{Session, add_accounts, servers};

#[test]
fn a_school_s_file_of_notices_is_sent_row_by_row_and_the_rows_not_sent_are_named() {
    for server in servers() {
        let people = add_accounts(&server.service);
        let s = Session::sign_in(&server, "school", Role::School);
        let today = chrono::Utc::now().date_naive();
        let dob = chrono::NaiveDate::parse_from_str(&common::dob_aged(10), "%Y-%m-%d").expect("dob");
        // Windows-1252: "Zoë" has 0xEB for the ë, as Excel saves "CSV" on
        // Windows. Line 3 has no ground; line 4 a date in the future.
        let mut file = b"deletion_date,ground,given_name,family_name,dob,sen\r\n".to_vec();
        file.extend_from_slice(format!("{},9(1)(a),Zo", today.format("%d/%m/%Y")).as_bytes());
        file.push(0xEB);
        file.extend_from_slice(format!(",Windows,{},K\r\n", dob.format("%d/%m/%Y")).as_bytes());
        file.extend_from_slice(format!("{},,Nog,Round,{},\r\n", today, dob).as_bytes());
        file.extend_from_slice(format!("{},9(1)(i),Fut,Ure,{},N\r\n", today + chrono::Days::new(3), dob).as_bytes());
        file.extend_from_slice(format!("{},9(1)(i),Ok,Second,{},\r\n", today, dob).as_bytes());

        let r = s.upload("/notices/upload", &file).send().expect("upload");
        assert_eq!(r.status().as_u16(), 200, "{}", server.backend);
        let page = r.text().expect("page");
        assert!(page.contains("2 of 4 notices sent"), "{}: {page}", server.backend);
        assert!(page.contains("Zoë Windows"), "{}: the name read as Windows-1252", server.backend);
        for (line, column) in [("3", "ground"), ("4", "deletion_date")] {
            let row = format!(
                "<td class=\"govuk-table__cell govuk-table__cell--numeric\">{line}</td><td class=\"govuk-table__cell\">{column}</td>"
            );
            assert!(page.contains(&row), "{}: line {line} named with {column}: {page}", server.backend);
        }

        // The council has the two notices and no more, with the day/month/
        // year dates read as such.
        let notices = server.service.notices(&people["school"], 1, 50).expect("notices");
        assert_eq!(notices.total, 2, "{}", server.backend);
        let zoe = notices.items.iter().find(|n| n.family_name == "Windows").expect("Zoë's notice");
        assert_eq!((zoe.given_name.as_str(), zoe.deletion_date), ("Zoë", today), "{}", server.backend);

        // An empty file, a header a notice does not have, and a stale
        // token each change nothing.
        let r = s.upload("/notices/upload", b"").send().expect("empty");
        assert_eq!(r.status().as_u16(), 422, "{}", server.backend);
        assert!(r.text().expect("page").contains("Choose a CSV file to send"));
        let r = s.upload("/notices/upload", b"when,why\n2026-01-01,x\n").send().expect("bad header");
        assert_eq!(r.status().as_u16(), 422, "{}", server.backend);
        let mut stale = Session::sign_in(&server, "school", Role::School);
        stale.csrf = Some("not-the-token".into());
        let r = stale.upload("/notices/upload", &file).send().expect("stale");
        assert_eq!(r.status().as_u16(), 403, "{}", server.backend);
        assert_eq!(server.service.notices(&people["school"], 1, 50).expect("notices").total, 2, "{}", server.backend);
    }
}
