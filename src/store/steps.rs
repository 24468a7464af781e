//! A run of statements sent to the database together. On SQLite each statement is otherwise a
//! round trip to sqlx's worker thread (a wake-up and two context switches, which on our
//! machines cost as much as the statement itself), so a run goes as one multi-statement query:
//! sqlx binds `$N` placeholders across every statement of a query string, so each statement's
//! placeholders are renumbered past the ones before it. PostgreSQL's extended protocol takes one
//! statement per query, so there the statements go one by one. The SQL text is the same either
//! way.

/// A value bound to a statement, for either engine.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(v)
    }
}

/// Statements to run in order, each with its own `$1..$n` placeholders and values.
#[derive(Debug, Default)]
pub(crate) struct Steps {
    stmts: Vec<(&'static str, Vec<Arg>)>,
}

impl Steps {
    pub fn push(&mut self, sql: &'static str, args: Vec<Arg>) {
        self.stmts.push((sql, args));
    }

    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// The statements and their values, in order.
    pub fn statements(&self) -> impl Iterator<Item = &(&'static str, Vec<Arg>)> {
        self.stmts.iter()
    }

    /// One query string of every statement, placeholders renumbered, and all values in order.
    pub fn combined(&self) -> (String, Vec<&Arg>) {
        let mut sql = String::new();
        let mut args = Vec::new();
        for (stmt, stmt_args) in &self.stmts {
            sql.push_str(&renumber(stmt, args.len()));
            sql.push_str(";\n");
            args.extend(stmt_args);
        }
        (sql, args)
    }
}

/// `sql` with every `$n` placeholder shifted to `$(n + offset)`. Our statements are constants
/// with no `$` inside string literals, so a plain scan is exact.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - at - 1);
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(n) => out.push_str(&format!("${}", n + offset)),
            Err(_) => out.push('$'),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_shifted_past_earlier_statements() {
        assert_eq!(renumber("SELECT $1, $2", 0), "SELECT $1, $2");
        assert_eq!(
            renumber("INSERT INTO t (a, b) VALUES ($1, $12)", 3),
            "INSERT INTO t (a, b) VALUES ($4, $15)"
        );
        assert_eq!(renumber("SELECT $", 2), "SELECT $");
    }

    #[test]
    fn combined_numbers_every_value_once_in_order() {
        let mut s = Steps::default();
        s.push("A $1 $2", vec![1i64.into(), "x".into()]);
        s.push("B $2 $1", vec![true.into(), 2i64.into()]);
        let (sql, args) = s.combined();
        assert_eq!(sql, "A $1 $2;\nB $4 $3;\n");
        assert_eq!(
            args,
            vec![
                &Arg::from(1i64),
                &Arg::from("x"),
                &Arg::from(true),
                &Arg::from(2i64)
            ]
        );
    }
}
