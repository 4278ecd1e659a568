//! The baseline: the same corpus in PostgreSQL full-text search — a `tsvector` of the same
//! analysed tokens (so scripts and spellings meet the same way) with a GIN index, and the same
//! policy filter in the WHERE clause; ranked with `ts_rank`, total counted as the server does.

use sea_orm::sqlx;
use sea_orm::sqlx::ConnectOptions;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::BoxError;
use super::corpus::{CorpusDocument, CorpusQuery, UPLOADERS};
use super::stats::{self, Latencies};
use crate::auth::demo_idp::personas;
use crate::search::analyzer::{Mode, fold_word};

const SCHEMA: &str = "anaspoc_bench";
const LEVELS: [&str; 4] = ["UNCLASSIFIED", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL"];

pub struct Baseline {
    pool: PgPool,
}

/// Our analyser's query-time tokens, space-separated: what both engines search.
fn analysed(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .flat_map(|w| fold_word(w, Mode::Query))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rank(level: &str) -> i32 {
    LEVELS.iter().position(|l| *l == level).unwrap_or(0) as i32
}

impl Baseline {
    pub async fn load(url: &str, documents: &[CorpusDocument]) -> Result<Self, BoxError> {
        // Slow statements are what this baseline measures: not worth a warning each.
        let options = url.parse::<PgConnectOptions>()?.disable_statement_logging();
        let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await?;
        for statement in [
            format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"),
            format!("CREATE SCHEMA {SCHEMA}"),
            format!(
                "CREATE TABLE {SCHEMA}.docs (id int PRIMARY KEY, title text, body_text text, body tsvector, \
                 class_rank int, org text, release text[], red_gate text[], status text NOT NULL DEFAULT 'published', \
                 tlp text, classification text, country text, language text, tag text)"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await?;
        }
        let organisations: std::collections::HashMap<&str, &str> =
            personas::PERSONAS.iter().map(|p| (p.username, p.organisation)).collect();
        for (chunk_number, chunk) in documents.chunks(1000).enumerate() {
            let mut ids = Vec::new();
            let mut titles = Vec::new();
            let mut bodies = Vec::new();
            let mut ranks = Vec::new();
            let mut orgs = Vec::new();
            let mut releases = Vec::new();
            let mut gates = Vec::new();
            let mut facets: [Vec<String>; 5] = Default::default();
            for (n, d) in chunk.iter().enumerate() {
                facets[0].push(d.tlp.to_owned());
                facets[1].push(d.classification.to_owned());
                facets[2].push(country_of(d.uploader).to_owned());
                facets[3].push(d.language.to_owned());
                facets[4].push(d.tags.first().copied().unwrap_or_default().to_owned());
                ids.push((chunk_number * 1000 + n) as i32);
                titles.push(d.title.clone());
                bodies.push(analysed(&format!("{} {}", d.title, d.body)));
                ranks.push(rank(d.classification));
                orgs.push(organisations.get(d.uploader).copied().unwrap_or_default().to_owned());
                let origin = UPLOADERS.iter().position(|(u, _)| *u == d.uploader).map(|_| country_of(d.uploader));
                let mut release: Vec<String> = d.releasable_to.iter().map(|c| c.to_string()).collect();
                if let Some(origin) = origin
                    && !release.iter().any(|c| c == "ALL" || c == origin)
                {
                    release.push(origin.to_owned());
                }
                releases.push(format!("{{{}}}", release.join(",")));
                let gate = if d.tlp == "RED" {
                    d.recipients.iter().map(|r| format!("sub:{r}")).collect()
                } else {
                    vec!["*".to_owned()]
                };
                gates.push(format!("{{{}}}", gate.join(",")));
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {SCHEMA}.docs (id, title, body_text, body, class_rank, org, release, red_gate, \
                   tlp, classification, country, language, tag) \
                 SELECT id, title, body, to_tsvector('simple', body), class_rank, org, release::text[], red_gate::text[], \
                   tlp, classification, country, language, tag \
                 FROM UNNEST($1::int[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], \
                   $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) \
                 AS t(id, title, body, class_rank, org, release, red_gate, tlp, classification, country, language, tag)"
            )))
            .bind(&ids)
            .bind(&titles)
            .bind(&bodies)
            .bind(&ranks)
            .bind(&orgs)
            .bind(&releases)
            .bind(&gates)
            .bind(&facets[0])
            .bind(&facets[1])
            .bind(&facets[2])
            .bind(&facets[3])
            .bind(&facets[4])
            .execute(&pool)
            .await
            .map_err(|e| format!("loading PostgreSQL: {e}"))?;
        }
        for statement in [
            format!("CREATE INDEX ON {SCHEMA}.docs USING GIN (body)"),
            format!("CREATE INDEX ON {SCHEMA}.docs USING GIN (release)"),
            format!("CREATE INDEX ON {SCHEMA}.docs USING GIN (red_gate)"),
            format!("CREATE INDEX ON {SCHEMA}.docs (org)"),
            format!("ANALYZE {SCHEMA}.docs"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    pub async fn load_test(&self, queries: &[CorpusQuery], clients: usize, seconds: u64) -> (Latencies, f64) {
        // What the server answers, in SQL: the top 20 with highlighted snippets, the total, and
        // five facet counts over every visible match.
        let facet = |column: &str| {
            format!(
                "(SELECT json_object_agg(k, n) FROM (SELECT {column} AS k, count(*) AS n FROM matched GROUP BY {column}) f)"
            )
        };
        let sql = format!(
            "WITH matched AS MATERIALIZED ( \
               SELECT id, title, body_text, tlp, classification, country, language, tag, ts_rank(body, q) AS score \
               FROM {SCHEMA}.docs, to_tsquery('simple', $1) q \
               WHERE body @@ q AND class_rank <= $2 \
                 AND (org = $3 OR (status = 'published' AND release && $4::text[] AND red_gate && $5::text[]))), \
             top AS ( \
               SELECT id, title, ts_headline('simple', body_text, to_tsquery('simple', $1), \
                 'StartSel=<mark>,StopSel=</mark>,MaxFragments=1,MaxWords=35') AS snippet \
               FROM (SELECT * FROM matched ORDER BY score DESC LIMIT 20) t) \
             SELECT (SELECT count(*) FROM matched) AS total, (SELECT json_agg(top) FROM top)::text AS hits, \
               {}::text, {}::text, {}::text, {}::text, {}::text",
            facet("tlp"),
            facet("classification"),
            facet("country"),
            facet("language"),
            facet("tag")
        );
        stats::drive(queries, clients, seconds, |query| {
            let persona = personas::find(query.persona);
            let terms = analysed(&query.text).split(' ').filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" & ");
            let sql = &sql;
            async move {
                let Some(persona) = persona else { return false };
                let result = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(terms)
                    .bind(rank(persona.clearance))
                    .bind(persona.organisation)
                    .bind(vec![persona.country.to_owned(), "ALL".to_owned()])
                    .bind(vec!["*".to_owned(), format!("sub:{}", persona.username)])
                    .fetch_all(&self.pool)
                    .await;
                if let Err(error) = &result {
                    tracing::warn!(%error, "PostgreSQL baseline query failed");
                }
                result.is_ok()
            }
        })
        .await
    }

    pub async fn drop_schema(&self) -> Result<(), BoxError> {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))).execute(&self.pool).await?;
        Ok(())
    }
}

fn country_of(persona: &str) -> &'static str {
    personas::find(persona).map(|p| p.country).unwrap_or("EU")
}
