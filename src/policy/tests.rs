//! Policy tests: a table covering every clause of the access rules (docs/architecture.md) (each true and false), the
//! markings validation rules, and a property test of `decide` against a literal reading of the
//! rules over generated principals × documents.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

const LEVELS: [&str; 4] = ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"];
const COUNTRIES: [&str; 7] = ["AL", "BA", "XK", "ME", "MK", "RS", "EU"];

fn config() -> PolicyConfig {
    let levels: Vec<String> = LEVELS.map(String::from).to_vec();
    PolicyConfig {
        ladder: Ladder::new(&levels, "CONFIDENTIAL").expect("ladder"),
        countries: COUNTRIES.iter().map(|c| c.to_string()).collect(),
    }
}

fn level(name: &str) -> Level {
    config().ladder.parse(name).expect("level")
}

fn principal(sub: &str, org: &str, country: &str, clearance: &str, caps: &[Capability]) -> Principal {
    Principal {
        sub: sub.into(),
        name: sub.into(),
        organisation: org.into(),
        country: country.into(),
        clearance: level(clearance),
        roles: vec![],
        capabilities: caps.iter().copied().collect(),
        email: None,
    }
}

const RW: &[Capability] = &[Capability::DocumentRead, Capability::DocumentWrite];
const RO: &[Capability] = &[Capability::DocumentRead];

/// An analyst in Belgrade (RS-MUP, RESTRICTED, read+write).
fn belgrade() -> Principal {
    principal("rs-1", "RS-MUP", "RS", "RESTRICTED", RW)
}

fn markings(classification: &str, tlp: &str, releasable: &[&str], recipients: &[&str], originator: &str) -> Markings {
    let input = MarkingsInput {
        classification: classification.into(),
        tlp: tlp.into(),
        handling_code: "H1".into(),
        handling_note: None,
        releasable_to: releasable.iter().map(|s| s.to_string()).collect(),
        recipients: recipients.iter().map(|s| s.to_string()).collect(),
    };
    Markings::restore(&input, &config(), originator).expect("valid markings")
}

/// A published SENSITIVE AMBER document from Tirana released to AL and RS.
fn tirana_doc() -> DocumentMarkings {
    DocumentMarkings {
        markings: markings("SENSITIVE", "AMBER", &["RS"], &[], "AL"),
        originator_org: "AL-ASP".into(),
        originator_country: "AL".into(),
        status: Status::Published,
    }
}

fn see(p: &Principal, d: &DocumentMarkings) -> Decision {
    decide(p, d, Action::See)
}

fn change(p: &Principal, d: &DocumentMarkings) -> Decision {
    decide(p, d, Action::Change)
}

#[test]
fn rule_table_each_clause_true_and_false() {
    use Decision::*;
    use Reason::*;
    let doc = tirana_doc();
    let same_org = principal("al-9", "AL-ASP", "AL", "SENSITIVE", RW);
    let mut cases: Vec<(&str, Principal, DocumentMarkings, Action, Decision)> = vec![
        // Base: rule 2 holds for Belgrade.
        ("published, released to RS, not RED: visible", belgrade(), doc.clone(), Action::See, Allow),
        // document:read
        (
            "no document:read",
            principal("rs-1", "RS-MUP", "RS", "RESTRICTED", &[Capability::DocumentWrite]),
            doc.clone(),
            Action::See,
            Hidden(NoReadCapability),
        ),
        (
            "no document:read, even in the originator org",
            principal("al-9", "AL-ASP", "AL", "CONFIDENTIAL", &[Capability::AuditRead, Capability::Admin]),
            doc.clone(),
            Action::See,
            Hidden(NoReadCapability),
        ),
        // clearance
        (
            "clearance below classification",
            principal("rs-1", "RS-MUP", "RS", "UNCLASSIFIED", RW),
            doc.clone(),
            Action::See,
            Hidden(ClearanceTooLow),
        ),
        (
            "clearance equal to classification",
            principal("rs-1", "RS-MUP", "RS", "SENSITIVE", RW),
            doc.clone(),
            Action::See,
            Allow,
        ),
        (
            "clearance below classification, even in the originator org",
            principal("al-9", "AL-ASP", "AL", "UNCLASSIFIED", RW),
            doc.clone(),
            Action::See,
            Hidden(ClearanceTooLow),
        ),
        // rule 1: originator organisation, any status
        ("originator org sees its published document", same_org.clone(), doc.clone(), Action::See, Allow),
        // rule 2: published
        (
            "draft hidden from other orgs",
            belgrade(),
            DocumentMarkings { status: Status::Draft, ..doc.clone() },
            Action::See,
            Hidden(NotPublished),
        ),
        (
            "draft visible to the originator org",
            same_org.clone(),
            DocumentMarkings { status: Status::Draft, ..doc.clone() },
            Action::See,
            Allow,
        ),
        (
            "an organisation of the same name in another country is another organisation",
            principal("rs-9", "AL-ASP", "RS", "CONFIDENTIAL", RW),
            DocumentMarkings { status: Status::Draft, ..doc.clone() },
            Action::See,
            Hidden(NotPublished),
        ),
        (
            "… and may not change the published document either",
            principal("rs-9", "AL-ASP", "RS", "CONFIDENTIAL", RW),
            doc.clone(),
            Action::Change,
            Forbidden(NotOriginatorOrganisation),
        ),
        (
            "withdrawn hidden from other orgs",
            belgrade(),
            DocumentMarkings { status: Status::Withdrawn, ..doc.clone() },
            Action::See,
            Hidden(NotPublished),
        ),
        (
            "withdrawn visible to the originator org",
            same_org.clone(),
            DocumentMarkings { status: Status::Withdrawn, ..doc.clone() },
            Action::See,
            Allow,
        ),
        // rule 2: releasability
        (
            "country not released to",
            principal("me-1", "ME-UP", "ME", "RESTRICTED", RW),
            doc.clone(),
            Action::See,
            Hidden(NotReleasableToCountry),
        ),
        (
            "same country, other org: released to the originator country",
            principal("al-2", "AL-MB", "AL", "RESTRICTED", RO),
            doc.clone(),
            Action::See,
            Allow,
        ),
        (
            "ALL releases to every country",
            principal("me-1", "ME-UP", "ME", "RESTRICTED", RW),
            DocumentMarkings { markings: markings("SENSITIVE", "GREEN", &["ALL"], &[], "AL"), ..doc.clone() },
            Action::See,
            Allow,
        ),
        // rule 2: TLP:RED recipients
        (
            "RED, named recipient",
            belgrade(),
            DocumentMarkings { markings: markings("SENSITIVE", "RED", &["RS"], &["rs-1"], "AL"), ..doc.clone() },
            Action::See,
            Allow,
        ),
        (
            "RED, not a recipient",
            principal("rs-2", "RS-MUP", "RS", "RESTRICTED", RW),
            DocumentMarkings { markings: markings("SENSITIVE", "RED", &["RS"], &["rs-1"], "AL"), ..doc.clone() },
            Action::See,
            Hidden(NotARecipient),
        ),
        (
            "RED, recipient but country not released to",
            principal("rs-1", "ME-UP", "ME", "RESTRICTED", RW),
            DocumentMarkings { markings: markings("SENSITIVE", "RED", &["RS"], &["rs-1"], "AL"), ..doc.clone() },
            Action::See,
            Hidden(NotReleasableToCountry),
        ),
        (
            "RED, originator org needs no recipient entry",
            same_org.clone(),
            DocumentMarkings { markings: markings("SENSITIVE", "RED", &["RS"], &["rs-1"], "AL"), ..doc.clone() },
            Action::See,
            Allow,
        ),
        (
            "AMBER+STRICT is not RED: no recipient list",
            belgrade(),
            DocumentMarkings { markings: markings("SENSITIVE", "AMBER+STRICT", &["RS"], &[], "AL"), ..doc.clone() },
            Action::See,
            Allow,
        ),
        // change
        ("originator org with write may change", same_org.clone(), doc.clone(), Action::Change, Allow),
        (
            "originator org may change a draft",
            same_org.clone(),
            DocumentMarkings { status: Status::Draft, ..doc.clone() },
            Action::Change,
            Allow,
        ),
        (
            "originator org without write may not change",
            principal("al-9", "AL-ASP", "AL", "SENSITIVE", RO),
            doc.clone(),
            Action::Change,
            Forbidden(NoWriteCapability),
        ),
        (
            "another org that sees it may not change it",
            belgrade(),
            doc.clone(),
            Action::Change,
            Forbidden(NotOriginatorOrganisation),
        ),
        (
            "another org that cannot see it: hidden, not forbidden",
            principal("me-1", "ME-UP", "ME", "RESTRICTED", RW),
            doc.clone(),
            Action::Change,
            Hidden(NotReleasableToCountry),
        ),
        (
            "originator org below the classification may not change",
            principal("al-9", "AL-ASP", "AL", "UNCLASSIFIED", RW),
            doc.clone(),
            Action::Change,
            Hidden(ClearanceTooLow),
        ),
    ];
    // The same principal, differently capable.
    cases.push((
        "admin sees nothing",
        principal("adm", "AL-ASP", "AL", "CONFIDENTIAL", &[Capability::Admin]),
        doc,
        Action::See,
        Hidden(NoReadCapability),
    ));
    for (name, principal, document, action, expected) in cases {
        assert_eq!(decide(&principal, &document, action), expected, "{name}");
    }
}

#[test]
fn organisation_and_subject_comparisons_are_exact() {
    let doc = tirana_doc();
    let lower = principal("al-9", "al-asp", "ME", "SENSITIVE", RW);
    assert_eq!(see(&lower, &doc), Decision::Hidden(Reason::NotReleasableToCountry));
    let red = DocumentMarkings { markings: markings("SENSITIVE", "RED", &["RS"], &["rs-1"], "AL"), ..doc };
    assert!(!see(&principal("RS-1", "RS-MUP", "RS", "RESTRICTED", RW), &red).is_allowed());
    assert!(!change(&belgrade(), &red).is_allowed());
}

fn input(
    classification: &str,
    tlp: &str,
    code: &str,
    note: Option<&str>,
    releasable: &[&str],
    recipients: &[&str],
) -> MarkingsInput {
    MarkingsInput {
        classification: classification.into(),
        tlp: tlp.into(),
        handling_code: code.into(),
        handling_note: note.map(String::from),
        releasable_to: releasable.iter().map(|s| s.to_string()).collect(),
        recipients: recipients.iter().map(|s| s.to_string()).collect(),
    }
}

fn validate_as(uploader: &Principal, input: MarkingsInput) -> Result<Markings, MarkingsError> {
    let levels: Vec<String> = LEVELS.map(String::from).to_vec();
    // The platform maximum of the default configuration.
    let config = PolicyConfig { ladder: Ladder::new(&levels, "RESTRICTED").expect("ladder"), ..config() };
    input.validate(&config, uploader, &uploader.country)
}

#[test]
fn markings_validation_names_the_field_at_fault() {
    let rs = principal("rs-1", "RS-MUP", "RS", "CONFIDENTIAL", RW);
    let me = principal("me-1", "ME-UP", "ME", "SENSITIVE", RW);
    let cases: Vec<(&str, &Principal, MarkingsInput, &str)> = vec![
        ("unknown level", &rs, input("SECRET", "AMBER", "H0", None, &["RS"], &[]), "classification"),
        ("above the platform maximum", &rs, input("CONFIDENTIAL", "AMBER", "H0", None, &["RS"], &[]), "classification"),
        (
            "above the uploader's clearance",
            &me,
            input("RESTRICTED", "AMBER", "H0", None, &["ME"], &[]),
            "classification",
        ),
        ("TLP 1.0 WHITE", &rs, input("SENSITIVE", "WHITE", "H0", None, &["RS"], &[]), "tlp"),
        ("unknown TLP", &rs, input("SENSITIVE", "PURPLE", "H0", None, &["RS"], &[]), "tlp"),
        ("unknown handling code", &rs, input("SENSITIVE", "AMBER", "H4", None, &["RS"], &[]), "handling_code"),
        ("H3 without note", &rs, input("SENSITIVE", "AMBER", "H3", None, &["RS"], &[]), "handling_note"),
        ("H3 with a blank note", &rs, input("SENSITIVE", "AMBER", "H3", Some("  "), &["RS"], &[]), "handling_note"),
        ("note without H3", &rs, input("SENSITIVE", "AMBER", "H1", Some("x"), &["RS"], &[]), "handling_note"),
        ("no releasability", &rs, input("SENSITIVE", "AMBER", "H0", None, &[], &[]), "releasable_to"),
        ("unknown country", &rs, input("SENSITIVE", "AMBER", "H0", None, &["RS", "DE"], &[]), "releasable_to"),
        ("ALL with countries", &rs, input("SENSITIVE", "AMBER", "H0", None, &["ALL", "RS"], &[]), "releasable_to"),
        ("RED without recipients", &rs, input("SENSITIVE", "RED", "H0", None, &["RS"], &[]), "recipients"),
        ("RED with blank recipients", &rs, input("SENSITIVE", "RED", "H0", None, &["RS"], &[" "]), "recipients"),
        ("recipients without RED", &rs, input("SENSITIVE", "GREEN", "H0", None, &["RS"], &["me-1"]), "recipients"),
    ];
    for (name, uploader, input, field) in cases {
        let err = validate_as(uploader, input).expect_err(name);
        assert_eq!(err.field, field, "{name}: {err}");
        assert!(!err.problem.is_empty());
    }
}

#[test]
fn valid_markings_are_normalised() {
    let rs = principal("rs-1", "RS-MUP", "RS", "CONFIDENTIAL", RW);
    let m = validate_as(&rs, input("RESTRICTED", "tlp:amber+strict", "h3", Some(" court only "), &["me", "AL"], &[]))
        .expect("valid");
    assert_eq!(m.classification().name(), "RESTRICTED");
    assert_eq!(m.tlp(), Tlp::AmberStrict);
    assert_eq!(m.handling_code(), HandlingCode::H3);
    assert_eq!(m.handling_note(), Some("court only"));
    assert_eq!(m.releasable_to().codes(), ["AL", "ME", "RS"], "the originator's country is always included");
    let m =
        validate_as(&rs, input("SENSITIVE", "RED", "H0", None, &["all"], &["me-1", "me-1", "al-2"])).expect("valid");
    assert_eq!(m.releasable_to(), &Releasability::All);
    assert_eq!(m.recipients().iter().collect::<Vec<_>>(), ["al-2", "me-1"]);
    let json = serde_json::to_value(&m).expect("json");
    assert_eq!(json["tlp"], "RED");
    assert_eq!(json["releasable_to"], serde_json::json!(["ALL"]));
    assert_eq!(json["handling_code"], "H0");
    assert!(json.get("handling_note").is_none());
}

#[test]
fn restore_fails_closed_on_levels_no_longer_configured_but_keeps_old_maxima() {
    let stored = input("CONFIDENTIAL", "AMBER", "H0", None, &["RS"], &[]);
    let levels: Vec<String> = LEVELS.map(String::from).to_vec();
    let lowered = PolicyConfig { ladder: Ladder::new(&levels, "SENSITIVE").expect("ladder"), ..config() };
    assert!(Markings::restore(&stored, &lowered, "RS").is_ok(), "a lowered maximum keeps old documents readable");
    let shorter: Vec<String> = LEVELS[..3].iter().map(|s| s.to_string()).collect();
    let removed = PolicyConfig { ladder: Ladder::new(&shorter, "RESTRICTED").expect("ladder"), ..config() };
    assert!(Markings::restore(&stored, &removed, "RS").is_err());
}

// ---- property test -------------------------------------------------------------------------

const SUBS: [&str; 4] = ["u1", "u2", "u3", "u4"];
/// Organisation names, deliberately shared across countries: "MUP" of RS and "MUP" of ME differ.
const ORGS: [&str; 3] = ["MUP", "ASP", "EUROPOL"];

/// Principals come only from the network's countries: the claim mapper refuses any other (and
/// `ALL`) before a principal exists, which `auth::claims` tests.
fn arb_principal() -> impl Strategy<Value = Principal> {
    (
        prop::sample::select(SUBS.to_vec()),
        prop::sample::select(ORGS.to_vec()),
        prop::sample::select(COUNTRIES.to_vec()),
        0..LEVELS.len(),
        prop::sample::subsequence(Capability::ALL.to_vec(), 0..=4),
    )
        .prop_map(|(sub, org, country, clearance, caps)| principal(sub, org, country, LEVELS[clearance], &caps))
}

fn arb_document() -> impl Strategy<Value = DocumentMarkings> {
    (
        0..LEVELS.len(),
        prop::sample::select(Tlp::ALL.to_vec()),
        prop_oneof![
            1 => Just(vec!["ALL".to_owned()]),
            4 => prop::sample::subsequence(COUNTRIES.to_vec(), 1..=3).prop_map(|c| c.into_iter().map(String::from).collect()),
        ],
        prop::sample::subsequence(SUBS.to_vec(), 1..=2),
        prop::sample::select(ORGS.to_vec()),
        prop::sample::select(COUNTRIES.to_vec()),
        prop::sample::select(Status::ALL.to_vec()),
    )
        .prop_map(|(level, tlp, releasable, recipients, org, country, status)| {
            let recipients: Vec<String> =
                if tlp == Tlp::Red { recipients.into_iter().map(String::from).collect() } else { vec![] };
            let input = MarkingsInput {
                classification: LEVELS[level].into(),
                tlp: tlp.as_str().into(),
                handling_code: "H2".into(),
                handling_note: None,
                releasable_to: releasable,
                recipients,
            };
            DocumentMarkings {
                markings: Markings::restore(&input, &config(), country).expect("generated markings are valid"),
                originator_org: org.into(),
                originator_country: country.into(),
                status,
            }
        })
}

/// The rules of docs/architecture.md read literally, as one boolean expression per action: an
/// organisation is its (country, name), and `ALL` releases to every configured country.
fn reference(u: &Principal, d: &DocumentMarkings) -> (bool, bool) {
    let m = &d.markings;
    let own =
        (u.country.as_str(), u.organisation.as_str()) == (d.originator_country.as_str(), d.originator_org.as_str());
    let configured = COUNTRIES.contains(&u.country.as_str());
    let released = m.releasable_to().codes().iter().any(|c| c == &u.country || (c == "ALL" && configured));
    let may_see = u.capabilities.contains(&Capability::DocumentRead)
        && u.clearance.rank() >= m.classification().rank()
        && (own
            || (d.status == Status::Published && released && (m.tlp() != Tlp::Red || m.recipients().contains(&u.sub))));
    let may_change = may_see && u.capabilities.contains(&Capability::DocumentWrite) && own;
    (may_see, may_change)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn decide_agrees_with_the_literal_rules(u in arb_principal(), d in arb_document()) {
        let (may_see, may_change) = reference(&u, &d);
        let seen = see(&u, &d);
        let changed = change(&u, &d);
        prop_assert_eq!(seen.is_allowed(), may_see);
        prop_assert_eq!(changed.is_allowed(), may_change);
        // Hidden for see ⇔ hidden for change: a refusal never reveals more than "not found".
        prop_assert_eq!(matches!(seen, Decision::Hidden(_)), matches!(changed, Decision::Hidden(_)));
        prop_assert!(!matches!(seen, Decision::Forbidden(_)));
    }

    #[test]
    fn search_filter_agrees_with_decide(u in arb_principal(), d in arb_document()) {
        let admitted = search_filter(&u).is_some_and(|f| f.admits(&d));
        prop_assert_eq!(admitted, see(&u, &d).is_allowed());
    }
}

#[test]
fn status_and_enum_labels_round_trip() {
    for status in Status::ALL {
        assert_eq!(status.as_str().parse::<Status>(), Ok(status));
    }
    for tlp in Tlp::ALL {
        assert_eq!(tlp.as_str().parse::<Tlp>(), Ok(tlp));
    }
    for code in HandlingCode::ALL {
        assert_eq!(code.as_str().parse::<HandlingCode>(), Ok(code));
        assert!(!code.meaning().is_empty());
    }
    let all: BTreeSet<_> = Tlp::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(all.len(), 5);
}
