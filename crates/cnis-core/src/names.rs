//! Given names and the short forms children are known by.
//!
//! A child registered as Alexander is Alex on one list and Sasha on another;
//! a council officer reading two records knows they may be the same child.
//! [`variants_agree`] says whether two given names could be one name: the
//! same, or a formal name and one of its common English short forms, or two
//! short forms of the same name. The table is general knowledge of English
//! diminutives, not any one data set's.

/// Formal name and its common short forms, upper case.
const SHORT_FORMS: &[(&str, &[&str])] = &[
    ("ABIGAIL", &["ABBY", "ABBIE", "ABI", "GAIL"]),
    ("ALEXANDER", &["ALEX", "ALEC", "ALEXIS", "SANDY", "XANDER", "ZANDER", "SASHA", "AL"]),
    ("ALEXANDRA", &["ALEX", "ALEXA", "LEXI", "LEXIE", "SANDRA", "SASHA", "ALLY"]),
    ("ALFRED", &["ALF", "ALFIE", "FRED", "FREDDIE"]),
    ("ALISON", &["ALI", "ALLIE"]),
    ("AMELIA", &["AMY", "MILLIE", "MILLY", "MIA", "MILLA", "MELIA", "EMMY"]),
    ("ANDREW", &["ANDY", "DREW"]),
    ("ANNA", &["ANNIE", "ANN"]),
    ("ANTHONY", &["TONY", "ANT"]),
    ("ARCHIBALD", &["ARCHIE", "ARCHY"]),
    ("ARTHUR", &["ART", "ARTIE"]),
    ("BARNABY", &["BARNEY"]),
    ("BENJAMIN", &["BEN", "BENNY", "BENJI", "BENJY"]),
    ("CAMERON", &["CAM"]),
    ("CAROLINE", &["CARRIE", "CARO", "CAROL"]),
    ("CATHERINE", &["CATH", "CATHY", "CATE", "KATE", "KATIE", "KAT", "KITTY"]),
    ("CHARLES", &["CHARLIE", "CHARLEY", "CHAS", "CHUCK", "CHAZ"]),
    ("CHARLOTTE", &["CHARLIE", "CHARLEY", "LOTTIE", "LOTTE", "LOTTY", "CHAR"]),
    ("CHRISTINA", &["CHRIS", "CHRISSIE", "TINA", "KIRSTY"]),
    ("CHRISTOPHER", &["CHRIS", "KIT", "TOPHER", "CHRISTY"]),
    ("CLEMENTINE", &["CLEM", "CLEMMIE"]),
    ("DANIEL", &["DAN", "DANNY"]),
    ("DANIELLE", &["DANI", "ELLE"]),
    ("DAVID", &["DAVE", "DAVY", "DAI"]),
    ("DEBORAH", &["DEBBIE", "DEB"]),
    ("DOMINIC", &["DOM"]),
    ("DOROTHY", &["DOT", "DOTTIE", "DOLLY"]),
    ("EDWARD", &["ED", "EDDIE", "EDDY", "NED", "TED", "TEDDY"]),
    ("ELEANOR", &["ELLIE", "ELLA", "NELL", "NELLIE", "NORA", "LENA", "ELLE"]),
    ("ELIZABETH", &["BETH", "LIZ", "LIZZIE", "LIZZY", "ELIZA", "BETSY", "BETTY", "LIBBY", "ELSIE", "ELLIE", "BESS"]),
    ("EMILY", &["EMMY", "MILLY", "EM", "EMMIE"]),
    ("EMMA", &["EMMY", "EM"]),
    ("EVELYN", &["EVIE", "EVE", "EVA"]),
    ("FLORENCE", &["FLO", "FLOSSIE", "FLORRIE", "FLORA"]),
    ("FRANCES", &["FRAN", "FRANNIE", "FRANKIE"]),
    ("FRANCIS", &["FRANK", "FRANKIE", "FRAN"]),
    ("FREDERICK", &["FRED", "FREDDIE", "FREDDY"]),
    ("GABRIEL", &["GABE", "GABBY"]),
    ("GABRIELLA", &["GABBY", "GABI", "ELLA"]),
    ("GEORGE", &["GEORGIE"]),
    ("GEORGINA", &["GEORGIE", "GINA"]),
    ("HARRIET", &["HATTIE", "HARRIE"]),
    ("HARRISON", &["HARRY", "HARRIS"]),
    ("HENRY", &["HARRY", "HAL", "HANK"]),
    ("ISABEL", &["IZZY", "ISSY", "BELLA", "BELLE", "ISA", "IBBY"]),
    ("ISABELLA", &["IZZY", "ISSY", "BELLA", "BELLE", "ISA"]),
    ("ISABELLE", &["IZZY", "ISSY", "BELLA", "BELLE", "ISA"]),
    ("JACOB", &["JAKE", "JAKEY", "JAY"]),
    ("JAMES", &["JIM", "JIMMY", "JAMIE", "JIMMIE", "JEM"]),
    ("JENNIFER", &["JEN", "JENNY", "JENNI"]),
    ("JESSICA", &["JESS", "JESSIE", "JESSIE"]),
    ("JONATHAN", &["JON", "JONNY", "JONNIE"]),
    ("JOSEPH", &["JOE", "JOEY", "JOJO"]),
    ("JOSEPHINE", &["JO", "JOSIE", "JOSE", "JOJO"]),
    ("JOSHUA", &["JOSH"]),
    ("KATHERINE", &["KATE", "KATIE", "KAT", "KATHY", "KATH", "KITTY", "KAY"]),
    ("LAURENCE", &["LAURIE", "LARRY", "LOL"]),
    ("LAWRENCE", &["LAURIE", "LARRY", "LOL"]),
    ("LEONARD", &["LEO", "LEN", "LENNY", "LENNIE"]),
    ("LOUIS", &["LOU", "LOUIE"]),
    ("LOUISA", &["LOU", "LOUIE", "LULU"]),
    ("LOUISE", &["LOU", "LOUIE", "LULU"]),
    ("LUCAS", &["LUKE", "LUCA"]),
    ("MARGARET", &["MAGGIE", "MEG", "MEGAN", "PEGGY", "MADGE", "DAISY", "GRETA", "MAISIE"]),
    ("MATILDA", &["TILLY", "TILLIE", "MATTIE", "TILDA"]),
    ("MATTHEW", &["MATT", "MATTY"]),
    ("MAXIMILIAN", &["MAX", "MAXI"]),
    ("MAXWELL", &["MAX"]),
    ("MICHAEL", &["MIKE", "MICKY", "MICK", "MIKEY", "MICKEY"]),
    ("NATHAN", &["NATE", "NAT"]),
    ("NATHANIEL", &["NATE", "NAT", "NATHAN"]),
    ("NICHOLAS", &["NICK", "NICKY", "NICO", "NIK"]),
    ("OLIVER", &["OLLIE", "OLLY", "OLI", "NOLL"]),
    ("OLIVIA", &["LIV", "LIVVY", "LIVIA", "OLLIE", "LIVVIE"]),
    ("PATRICK", &["PAT", "PADDY", "PADRAIG"]),
    ("PENELOPE", &["PENNY", "PEN", "NELL"]),
    ("PETER", &["PETE"]),
    ("PHILIP", &["PHIL", "PIP"]),
    ("PHILLIP", &["PHIL", "PIP"]),
    ("PHOEBE", &["PHEBE"]),
    ("REBECCA", &["BECKY", "BECCA", "BECS", "BEX"]),
    ("RICHARD", &["RICH", "RICHIE", "RICK", "RICKY", "DICK"]),
    ("ROBERT", &["ROB", "ROBBIE", "BOB", "BOBBY", "BERT"]),
    ("RONALD", &["RON", "RONNIE"]),
    ("SAMANTHA", &["SAM", "SAMMY", "SAMMIE"]),
    ("SAMUEL", &["SAM", "SAMMY", "SAMMIE"]),
    ("SEBASTIAN", &["SEB", "SEBBY", "BASTIAN"]),
    ("SOPHIA", &["SOPHIE", "SOPH", "SOFIA"]),
    ("SOPHIE", &["SOPH"]),
    ("STEPHANIE", &["STEPH", "STEFFI"]),
    ("STEPHEN", &["STEVE", "STEVIE"]),
    ("STEVEN", &["STEVE", "STEVIE"]),
    ("SUSANNAH", &["SUE", "SUSIE", "SUZY", "SANNA"]),
    ("THEODORE", &["THEO", "TED", "TEDDY"]),
    ("THEODORA", &["THEA", "DORA", "TEDDIE"]),
    ("THOMAS", &["TOM", "TOMMY", "THOM"]),
    ("TIMOTHY", &["TIM", "TIMMY"]),
    ("VICTORIA", &["VICKY", "VICKI", "TORI", "TORY", "VIC"]),
    ("WILLIAM", &["WILL", "WILLIE", "WILLY", "BILL", "BILLY", "LIAM", "WILF"]),
    ("WILFRED", &["WILF", "FRED", "FREDDIE"]),
    ("ZACHARY", &["ZACH", "ZAC", "ZAK", "ZACK"]),
];

/// The formal names a given name (upper case) is, or is a short form of, as
/// bits: bit `i` for the `i`th formal name of the table. Two names are
/// variants of one name when they are equal or their masks share a bit, so
/// a linkage run can work each name's mask out once and compare pairs by a
/// single AND.
pub fn root_mask(name: &str) -> u128 {
    SHORT_FORMS
        .iter()
        .enumerate()
        .filter(|(_, (formal, short))| *formal == name || short.contains(&name))
        .fold(0, |m, (i, _)| m | (1u128 << i))
}

/// Whether two given names (letters, upper case) could be one name: the
/// same, a formal name and one of its short forms, or two short forms of
/// one formal name.
pub fn variants_agree(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || root_mask(a) & root_mask(b) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_agree_with_their_names_and_with_each_other() {
        assert!(variants_agree("CHARLOTTE", "CHARLIE"));
        assert!(variants_agree("CHARLIE", "CHARLOTTE"));
        assert!(variants_agree("LIZ", "BETH"));
        assert!(variants_agree("AMELIA", "MILLIE"));
        assert!(!variants_agree("AMELIA", "OLIVIA"));
        assert!(!variants_agree("", ""));
        // Two names that share a short form are not thereby one name.
        assert!(!variants_agree("CHARLES", "CHARLOTTE"));
        assert!(SHORT_FORMS.len() <= 128, "root_mask holds 128 formal names");
        assert!(variants_agree("REBECCA", "BECKY") && variants_agree("BECCA", "BECKY"));
        for (formal, short) in SHORT_FORMS {
            assert!(formal.bytes().all(|b| b.is_ascii_uppercase()), "{formal}");
            assert!(short.iter().all(|s| s.bytes().all(|b| b.is_ascii_uppercase())), "{formal}");
        }
    }
}

/// The American Soundex code of a name (a letter and three digits): names
/// that sound alike (Smith, Smyth; Catherine, Kathryn share `K365`/`C365`
/// only after the first letter) mostly share it. Used to find candidates
/// for a fuzzy search, never to decide a match: the linkage comparisons
/// rank what it finds. Letters other than A to Z are skipped; `None` when
/// the name has none.
pub fn soundex(name: &str) -> Option<String> {
    fn digit(c: u8) -> u8 {
        match c {
            b'B' | b'F' | b'P' | b'V' => b'1',
            b'C' | b'G' | b'J' | b'K' | b'Q' | b'S' | b'X' | b'Z' => b'2',
            b'D' | b'T' => b'3',
            b'L' => b'4',
            b'M' | b'N' => b'5',
            b'R' => b'6',
            _ => b'0',
        }
    }
    let mut letters = name.bytes().filter(u8::is_ascii_alphabetic).map(|c| c.to_ascii_uppercase());
    let first = letters.next()?;
    let mut out = vec![first];
    let mut last = digit(first);
    for c in letters {
        let d = digit(c);
        if d != b'0' && d != last {
            out.push(d);
            if out.len() == 4 {
                break;
            }
        }
        // H and W do not separate two letters of the same code; vowels do.
        if c != b'H' && c != b'W' {
            last = d;
        }
    }
    out.resize(4, b'0');
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod soundex_tests {
    use super::soundex;

    #[test]
    fn known_codes() {
        for (name, code) in [
            ("Robert", "R163"),
            ("Rupert", "R163"),
            ("Ashcraft", "A261"),
            ("Tymczak", "T522"),
            ("Pfister", "P236"),
            ("Smith", "S530"),
            ("Smyth", "S530"),
            ("O'Connor", "O256"),
            ("Lee", "L000"),
        ] {
            assert_eq!(soundex(name).as_deref(), Some(code), "{name}");
        }
        assert_eq!(soundex("  - "), None);
    }
}
