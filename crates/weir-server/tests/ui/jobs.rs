//! Output checking in the browser: two checkers each read every held file and vote blind; both
//! approving releases the outputs; the team never opens the check page; nobody votes twice.

use reqwest::StatusCode;

use super::{Browser, PASSWORD, unescape};
use crate::jobs::{command, finished, queued, world};

#[tokio::test]
async fn two_checkers_release_a_jobs_outputs_from_the_queue() {
    let Some(w) = world(true, 3600).await else {
        return;
    };
    super::passwords(&w.app, &["op", "op2", "grace"]).await;
    let id = queued(
        &w,
        command(
            "acme/restricted",
            "echo '<script>alert(1)</script> 0.42' > /out/score.txt",
        ),
    )
    .await;
    assert_eq!(finished(&w, id).await["outputs_state"], "awaiting_review");
    // The checkers are told; the team is not (it sees the job's state).
    let told = |who: &'static str| {
        let app = &w.app;
        async move {
            app.store
                .db
                .notifications(who)
                .await
                .expect("db")
                .iter()
                .any(|n| n.message.contains(&format!("job {id} await")))
        }
    };
    assert!(told("op").await && told("op2").await);
    assert!(!told("grace").await);
    let page = format!("/review/jobs/{id}");
    // The team: no queue entry, no check page.
    let mut g = Browser::new(&w.app);
    g.sign_in("grace", PASSWORD).await;
    let (_, q) = g.text("/review").await;
    assert!(!q.contains(&format!("Job {id}</a>")));
    assert_ne!(g.get(&page).await.status(), StatusCode::OK);
    let mut a = Browser::new(&w.app);
    a.sign_in("op", PASSWORD).await;
    let (_, q) = a.text("/review").await;
    assert!(q.contains(&format!("href=\"/review/jobs/{id}\"")), "{q}");
    let (status, body) = a.text(&page).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body_text = unescape(&body);
    assert!(
        body_text.contains("<script>alert(1)</script> 0.42"),
        "{body}"
    );
    assert!(
        !body.contains("<script>alert"),
        "a held file's content renders inert"
    );
    let paths: Vec<String> = body
        .split("name=\"path_")
        .skip(1)
        .map(|s| {
            let at = s.find("value=\"").expect("value") + 7;
            unescape(
                &s[at..]
                    .chars()
                    .take_while(|c| *c != '"')
                    .collect::<String>(),
            )
        })
        .collect();
    assert!(paths.contains(&"score.txt".to_string()), "{paths:?}");
    let mut fields: Vec<(String, String)> = vec![];
    for (i, p) in paths.iter().enumerate() {
        fields.push((format!("path_{i}"), p.clone()));
        fields.push((format!("vote_{i}"), "approve".into()));
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = a.submit(&page, &page, &refs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Not twice.
    let r = a.submit(&page, &page, &refs).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(finished(&w, id).await["outputs_state"], "awaiting_review");
    let mut b = Browser::new(&w.app);
    b.sign_in("op2", PASSWORD).await;
    let r = b.submit(&page, &page, &refs).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(finished(&w, id).await["outputs_state"], "released");
}
