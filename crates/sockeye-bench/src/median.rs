//! Several runs folded into one, figure by figure: the median of every number, so that
//! one disturbed phase (another process on the machine, a slow scheduler tick) does not
//! decide a ratio. Correctness counters are the exception: they take the worst run, so
//! that no problem is hidden by the others.

use serde_json::{Map, Number, Value};

/// Folds runs of the same shape (the JSON of [`Results`](crate::run::Results)).
pub fn fold(runs: &[Value]) -> Value {
    fold_at(runs, false)
}

fn fold_at(runs: &[Value], worst: bool) -> Value {
    let Some(first) = runs.first() else {
        return Value::Null;
    };
    match first {
        Value::Number(_) => {
            let mut numbers: Vec<f64> = runs.iter().filter_map(Value::as_f64).collect();
            if numbers.len() != runs.len() {
                // NaN (written as null) in some run: keep the first run's value.
                return first.clone();
            }
            numbers.sort_by(f64::total_cmp);
            let integer = first.is_u64() || first.is_i64();
            let folded = if worst {
                numbers[numbers.len() - 1]
            } else if numbers.len() % 2 == 1 || integer {
                // An even count of integers (counts, microseconds) takes the lower of
                // the two middle values, which is one that was measured.
                numbers[(numbers.len() - 1) / 2]
            } else {
                (numbers[numbers.len() / 2 - 1] + numbers[numbers.len() / 2]) / 2.0
            };
            if first.is_u64() {
                Value::Number(Number::from(folded as u64))
            } else if first.is_i64() {
                Value::Number(Number::from(folded as i64))
            } else {
                Number::from_f64(folded).map_or_else(|| first.clone(), Value::Number)
            }
        }
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                let values: Vec<Value> = runs
                    .iter()
                    .map(|run| run.get(key).cloned().unwrap_or(Value::Null))
                    .collect();
                let folded = if values.iter().any(|v| !same_kind(v, value)) {
                    value.clone()
                } else {
                    fold_at(&values, worst || key == "checks")
                };
                out.insert(key.clone(), folded);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let lengths_match = runs
                .iter()
                .all(|run| run.as_array().is_some_and(|a| a.len() == items.len()));
            if !lengths_match {
                return first.clone();
            }
            Value::Array(
                (0..items.len())
                    .map(|i| {
                        let column: Vec<Value> = runs.iter().map(|run| run[i].clone()).collect();
                        fold_at(&column, worst)
                    })
                    .collect(),
            )
        }
        _ => first.clone(),
    }
}

fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn medians_of_figures_and_the_worst_of_checks() {
        let runs = [
            json!({"rate": 10.0, "p99_us": 300, "checks": {"missing": 0}, "name": "a", "list": [1, 2]}),
            json!({"rate": 30.0, "p99_us": 100, "checks": {"missing": 5}, "name": "b", "list": [3, 4]}),
            json!({"rate": 20.0, "p99_us": 200, "checks": {"missing": 0}, "name": "c", "list": [5, 6]}),
        ];
        assert_eq!(
            fold(&runs),
            json!({"rate": 20.0, "p99_us": 200, "checks": {"missing": 5}, "name": "a", "list": [3, 4]})
        );
        let two = [json!({"x": 1.0, "n": 10}), json!({"x": 2.0, "n": 15})];
        assert_eq!(fold(&two), json!({"x": 1.5, "n": 10}));
        // A figure missing (NaN) in one run: the first run's value is kept.
        let gap = [json!({"x": null}), json!({"x": 2.0})];
        assert_eq!(fold(&gap), json!({"x": null}));
    }
}
