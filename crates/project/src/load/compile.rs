//! The compile render: a node's SQL with refs resolved and ephemeral models inlined as CTEs.

use super::generic_tests::generic_test_call;
use super::*;

pub(crate) fn compile(
    project: &Project,
    unique_id: &str,
    is_incremental: bool,
    batch: Option<&crate::Batch>,
    lookups: Option<&Arc<Lookups>>,
) -> Result<Compiled> {
    let (sql, mut wanted) = compile_body(project, unique_id, is_incremental, batch, lookups)?;
    // Inline ephemeral ancestors as CTEs, deepest first.
    let mut ordered = Vec::new();
    collect_ephemeral(project, unique_id, &mut ordered, &mut BTreeSet::new());
    if ordered.is_empty() {
        return Ok(Compiled { sql, wanted });
    }
    let mut ctes = Vec::new();
    for id in &ordered {
        let (body, more) = compile_body(project, id, false, batch, lookups)?;
        wanted.extend(more);
        let name = project.nodes[id]
            .relation
            .as_ref()
            .map(Relation::cte_name)
            .unwrap_or_default();
        ctes.push(format!(
            "{name} as (\n{}\n)",
            strip_trailing_semicolon(&body)
        ));
    }
    Ok(Compiled {
        sql: inject_ctes(&sql, &ctes),
        wanted,
    })
}

pub(super) fn collect_ephemeral(
    project: &Project,
    id: &str,
    out: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) {
    let Some(node) = project.nodes.get(id) else {
        return;
    };
    for dep in &node.depends_on {
        if let Some(parent) = project.nodes.get(dep)
            && parent.is_ephemeral()
            && seen.insert(dep.clone())
        {
            collect_ephemeral(project, dep, out, seen);
            out.push(dep.clone());
        }
    }
}

pub(super) fn compile_body(
    project: &Project,
    unique_id: &str,
    is_incremental: bool,
    batch: Option<&crate::Batch>,
    lookups: Option<&Arc<Lookups>>,
) -> Result<(String, Wanted)> {
    let Some(node) = project.nodes.get(unique_id) else {
        return Err(ProjectError::invalid(
            &project.root,
            format!("no node '{unique_id}'"),
        ));
    };
    if node.test.is_some() {
        let (call, ctx) =
            generic_test_call(&project.scope, &project.nodes, &project.sources, node)?;
        let mut target = render_target(node, None, false, None);
        target.lookups = lookups.cloned();
        let (sql, recorded) = jinja::render(&project.scope, Phase::Compile, &target, &call, ctx)?;
        return Ok((sql.trim().to_string(), recorded.wanted));
    }
    let mut target = render_target(node, node.relation.clone(), is_incremental, batch);
    target.lookups = lookups.cloned();
    let (sql, recorded) = jinja::render(
        &project.scope,
        Phase::Compile,
        &target,
        &node.raw_code,
        BTreeMap::new(),
    )?;
    Ok((sql.trim().to_string(), recorded.wanted))
}

pub(crate) fn compile_inline(project: &Project, sql: &str) -> Result<String> {
    let config = serde_json::Map::new();
    let path = PathBuf::from("<inline>");
    let target = RenderTarget {
        path: &path,
        name: "inline",
        unique_id: "sql_operation.inline",
        resource_type: "sql_operation",
        this: None,
        is_incremental: false,
        config: &config,
        batch: None,
        lookups: None,
    };
    let (sql, _) = jinja::render(
        &project.scope,
        Phase::Compile,
        &target,
        sql,
        BTreeMap::new(),
    )?;
    Ok(sql.trim().to_string())
}

pub(crate) fn strip_trailing_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

/// Prepends CTEs to `sql`, merging into its own `WITH` if it has one.
pub(crate) fn inject_ctes(sql: &str, ctes: &[String]) -> String {
    let body = strip_trailing_semicolon(sql);
    let start = skip_comments(body);
    let rest = &body[start..];
    let joined = ctes.join(",\n");
    let starts_with_with = rest.len() >= 4
        && rest[..4].eq_ignore_ascii_case("with")
        && rest[4..].starts_with(|c: char| c.is_whitespace());
    if starts_with_with {
        format!(
            "{}with {joined},\n{}",
            &body[..start],
            rest[4..].trim_start()
        )
    } else {
        format!("{}with {joined}\n{rest}", &body[..start])
    }
}

/// The byte offset of the first token that is neither white space nor a comment.
pub(super) fn skip_comments(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if sql[i..].starts_with("--") {
            i = sql[i..]
                .find('\n')
                .map(|n| i + n + 1)
                .unwrap_or(bytes.len());
        } else if sql[i..].starts_with("/*") {
            i = sql[i..]
                .find("*/")
                .map(|n| i + n + 2)
                .unwrap_or(bytes.len());
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctes_merge_into_existing_with() {
        let out = inject_ctes(
            "-- hi\nWITH a as (select 1) select * from a;",
            &["__dbt__cte__e as (\nselect 2\n)".into()],
        );
        assert_eq!(
            out,
            "-- hi\nwith __dbt__cte__e as (\nselect 2\n),\na as (select 1) select * from a"
        );
        let out = inject_ctes(
            "select * from __dbt__cte__e",
            &["__dbt__cte__e as (\nselect 2\n)".into()],
        );
        assert_eq!(
            out,
            "with __dbt__cte__e as (\nselect 2\n)\nselect * from __dbt__cte__e"
        );
    }
}
