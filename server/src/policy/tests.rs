use super::*;

fn identity(role: Role, user: &str) -> Identity {
    Identity::for_tests(role, user, None)
}

fn row(role: AccountRole, closed: bool) -> RoomAccessRow {
    RoomAccessRow {
        room_id: "r".into(),
        role,
        last_seq: 0,
        read_seq: 0,
        closed,
        closed_at: closed.then_some(1),
        retention_secs: None,
        purged: false,
    }
}

fn file(uploader: &str, msg_id: Option<&str>, deleted: bool) -> FileMeta {
    FileMeta {
        id: "f".into(),
        room_id: "r".into(),
        uploader_id: uploader.into(),
        name: Some("n".into()),
        erased: false,
        declared_type: None,
        sniffed_type: "text/plain".into(),
        size: 1,
        sha256: String::new(),
        msg_id: msg_id.map(str::to_string),
        created_at: 0,
        deleted_at: deleted.then_some(1),
        purpose: Some(Purpose::Participation),
    }
}

fn grant(scope: &[GrantScope]) -> GrantRow {
    GrantRow {
        id: "g".into(),
        room_id: "r".into(),
        moderator_id: "mod1".into(),
        case_id: "case".into(),
        reason: Ok("because".into()),
        scope: scope.to_vec(),
        duration_ms: 1000,
        needs_approval: false,
        opened_at: 0,
        expires_at: 1000,
        approved_by: None,
        approved_at: None,
        revoked_by: None,
        revoked_at: None,
    }
}

fn member_reads(access: Option<&RoomAccessRow>, act: Act) -> Result<Decision, Denied> {
    let member = identity(Role::Member, "u1");
    decide(
        Caller::Token(&member),
        act,
        Purpose::Participation,
        Resource::Room(access),
    )
}

#[test]
fn unseen_rooms_are_not_found_for_every_action() {
    for act in [Act::ReadRoom, Act::WriteRoom] {
        assert_eq!(
            member_reads(None, act).unwrap_err().code,
            ErrorCode::NotFound
        );
    }
}

#[test]
fn viewers_read_but_do_not_write_and_closed_rooms_are_read_only() {
    let viewer = row(AccountRole::Viewer, false);
    assert!(member_reads(Some(&viewer), Act::ReadRoom).is_ok());
    assert_eq!(
        member_reads(Some(&viewer), Act::WriteRoom)
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    let owner = row(AccountRole::Owner, true);
    assert!(member_reads(Some(&owner), Act::ReadRoom).is_ok());
    assert_eq!(
        member_reads(Some(&owner), Act::WriteRoom).unwrap_err().code,
        ErrorCode::Conflict
    );
}

#[test]
fn files_are_seen_once_attached_and_lost_with_their_message() {
    let access = row(AccountRole::Member, false);
    let check = |user: &str, f: &FileMeta, room_id: &str| {
        let member = identity(Role::Member, user);
        decide(
            Caller::Token(&member),
            Act::ReadFile,
            Purpose::Participation,
            Resource::RoomFile {
                room: Some(&access),
                room_id,
                file: f,
            },
        )
        .map(|_| ())
        .map_err(|d| d.code)
    };
    let pending = file("u1", None, false);
    assert!(
        check("u1", &pending, "r").is_ok(),
        "uploader sees own upload"
    );
    assert_eq!(check("u2", &pending, "r"), Err(ErrorCode::NotFound));
    let attached = file("u1", Some("m"), false);
    assert!(check("u2", &attached, "r").is_ok());
    assert_eq!(check("u2", &attached, "other"), Err(ErrorCode::NotFound));
    let deleted = file("u1", Some("m"), true);
    assert_eq!(check("u1", &deleted, "r"), Err(ErrorCode::NotFound));
    let mut screenshot = file("u1", Some("m"), false);
    screenshot.purpose = Some(Purpose::PaymentGuarantee);
    assert_eq!(
        check("u2", &screenshot, "r"),
        Err(ErrorCode::NotFound),
        "an item collected for another purpose is not read for participation"
    );
}

#[test]
fn every_act_is_denied_to_roles_outside_its_table() {
    let roles = [
        Role::Member,
        Role::Moderator,
        Role::Legal,
        Role::Auditor,
        Role::Bot,
        Role::Service,
        Role::Admin,
    ];
    for act in Act::ALL {
        for role in roles {
            let who = identity(role, "x");
            let allowed = act.rule().allowed.iter().any(|(r, _)| *r == Some(role));
            for purpose in Purpose::ALL {
                let result = decide(Caller::Token(&who), *act, *purpose, Resource::Nothing);
                if !allowed {
                    assert!(result.is_err(), "{act:?} must be refused to {role:?}");
                }
                if !act.rule().allowed.contains(&(Some(role), *purpose)) {
                    assert!(result.is_err(), "{act:?} for {purpose} by {role:?}");
                }
            }
        }
    }
}

#[test]
fn bots_are_refused_every_act() {
    let bot = identity(Role::Bot, "b");
    let access = row(AccountRole::Owner, false);
    for act in Act::ALL {
        for purpose in Purpose::ALL {
            for resource in [Resource::Nothing, Resource::Room(Some(&access))] {
                assert!(
                    decide(Caller::Token(&bot), *act, *purpose, resource).is_err(),
                    "{act:?}"
                );
            }
        }
    }
}

#[test]
fn a_moderator_reads_only_under_their_own_active_grant_within_its_scope() {
    let moderator = identity(Role::Moderator, "mod1");
    let other = identity(Role::Moderator, "mod2");
    let g = grant(&[GrantScope::History]);
    let ask = |who: &Identity, g: &GrantRow, scope: GrantScope, act: Act, now: i64| {
        decide(
            Caller::Token(who),
            act,
            Purpose::Moderation,
            Resource::Grant {
                grant: g,
                scope: Some(scope),
                now,
            },
        )
    };
    let decision = ask(
        &moderator,
        &g,
        GrantScope::History,
        Act::ReadHistoryUnderGrant,
        10,
    )
    .expect("active grant, right scope");
    assert!(decision.audited, "moderator reads are audited");
    assert!(
        ask(
            &other,
            &g,
            GrantScope::History,
            Act::ReadHistoryUnderGrant,
            10
        )
        .is_err()
    );
    assert!(ask(&moderator, &g, GrantScope::Live, Act::WatchUnderGrant, 10).is_err());
    assert!(
        ask(
            &moderator,
            &g,
            GrantScope::History,
            Act::ReadHistoryUnderGrant,
            1000
        )
        .is_err()
    );
    let mut pending = g.clone();
    pending.needs_approval = true;
    assert!(
        ask(
            &moderator,
            &pending,
            GrantScope::History,
            Act::ReadHistoryUnderGrant,
            10
        )
        .is_err()
    );
    let mut revoked = g.clone();
    revoked.revoked_at = Some(5);
    assert!(
        ask(
            &moderator,
            &revoked,
            GrantScope::History,
            Act::ReadHistoryUnderGrant,
            10
        )
        .is_err()
    );
    // Without a grant a moderator is an outsider.
    let access = row(AccountRole::Owner, false);
    assert!(
        decide(
            Caller::Token(&moderator),
            Act::ReadRoom,
            Purpose::Moderation,
            Resource::Room(Some(&access))
        )
        .is_err()
    );
    assert_eq!(
        decide(
            Caller::Token(&moderator),
            Act::WriteRoom,
            Purpose::Participation,
            Resource::Room(Some(&access))
        )
        .unwrap_err()
        .message,
        "moderators cannot post as members"
    );
}

#[test]
fn four_eyes_needs_a_second_moderator() {
    let opener = identity(Role::Moderator, "mod1");
    let second = identity(Role::Moderator, "mod2");
    let mut g = grant(&[GrantScope::History]);
    g.needs_approval = true;
    let approve = |who: &Identity| {
        decide(
            Caller::Token(who),
            Act::ApproveGrant,
            Purpose::Moderation,
            Resource::Grant {
                grant: &g,
                scope: None,
                now: 10,
            },
        )
    };
    assert_eq!(approve(&opener).unwrap_err().code, ErrorCode::Forbidden);
    assert!(approve(&second).is_ok());
}

#[test]
fn purposes_do_not_mix() {
    assert!(readable(Purpose::Participation, Purpose::Moderation));
    assert!(!readable(Purpose::Moderation, Purpose::Participation));
    assert!(!readable(Purpose::PaymentGuarantee, Purpose::Participation));
    assert!(!readable(Purpose::Security, Purpose::Moderation));
    for p in Purpose::ALL {
        assert!(
            !readable(*p, Purpose::AnonymousAnalytics),
            "analytics reads no item"
        );
    }
    assert!(!readable_name("unknown", Purpose::Participation));
    // An item whose stored purpose this server does not know is readable for no purpose.
    for read in Purpose::ALL {
        assert!(!readable_stored(None, *read), "{read:?}");
    }
}

#[test]
fn only_members_are_told_who_is_online() {
    use Role::*;
    for role in [Member, Moderator, Legal, Auditor, Bot, Service, Admin] {
        assert_eq!(
            session_receives_presence(role),
            role == Role::Member,
            "{role:?}"
        );
    }
}

#[test]
fn live_views_receive_no_payment_guarantee_data() {
    assert!(session_receives(Role::Member, Purpose::PaymentGuarantee));
    assert!(session_receives(Role::Member, Purpose::Participation));
    assert!(!session_receives(Role::Member, Purpose::Security));
    assert!(session_receives(Role::Moderator, Purpose::Participation));
    assert!(!session_receives(
        Role::Moderator,
        Purpose::PaymentGuarantee
    ));
    for role in [Role::Bot, Role::Service, Role::Auditor] {
        assert!(
            !session_receives(role, Purpose::PaymentGuarantee),
            "{role:?}"
        );
    }
}

#[test]
fn the_web_page_is_served_to_anyone_for_operations_and_reads_nothing() {
    let page = |purpose| {
        decide(
            Caller::Anonymous,
            Act::ServePage,
            purpose,
            Resource::Nothing,
        )
    };
    let decision = page(Purpose::Operations).expect("the page is public code");
    assert!(!decision.audited, "fetching the page is not recorded");
    for purpose in Purpose::ALL {
        if *purpose != Purpose::Operations {
            assert!(page(*purpose).is_err(), "{purpose:?}");
        }
    }
    // It names no resource: asked about a room or anything else, it is refused.
    let access = row(AccountRole::Owner, false);
    assert!(
        decide(
            Caller::Anonymous,
            Act::ServePage,
            Purpose::Operations,
            Resource::Room(Some(&access)),
        )
        .is_err()
    );
    // Operations reads no item, so the act can never be the way to content.
    for collected in Purpose::ALL {
        assert!(!readable(*collected, Purpose::Operations), "{collected:?}");
    }
}

#[test]
fn the_api_description_is_public_for_operations_and_reads_nothing() {
    let describe =
        |caller, purpose| decide(caller, Act::ReadApiDescription, purpose, Resource::Nothing);
    let decision = describe(Caller::Anonymous, Purpose::Operations).expect("public by design");
    assert!(
        !decision.audited,
        "reading the API description is not recorded"
    );
    for purpose in Purpose::ALL {
        if *purpose != Purpose::Operations {
            assert!(
                describe(Caller::Anonymous, *purpose).is_err(),
                "{purpose:?}"
            );
        }
    }
    // The route asks as the anonymous caller whatever it was sent; asked for a token, the
    // act is refused, so it is no way for a token to reach anything.
    let member = identity(Role::Member, "u1");
    assert!(describe(Caller::Token(&member), Purpose::Operations).is_err());
    // It names no resource: asked about a room, it is refused.
    let access = row(AccountRole::Owner, false);
    assert!(
        decide(
            Caller::Anonymous,
            Act::ReadApiDescription,
            Purpose::Operations,
            Resource::Room(Some(&access)),
        )
        .is_err()
    );
}
