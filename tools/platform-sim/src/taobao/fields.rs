//! The `fields` parameter: which Trade and Order fields a list answer carries.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The fields a caller asked for.
#[derive(Debug, Clone, Default)]
pub struct FieldSelection {
    trade: BTreeSet<String>,
    /// `orders` alone: every Order field.
    all_orders: bool,
    /// `orders.xxx`: just these Order fields.
    order: BTreeSet<String>,
}

/// What must be requested for `oaid` to be returned.
const OAID_PREREQUISITES: [&str; 4] = [
    "receiver_name",
    "receiver_mobile",
    "receiver_address",
    "created",
];

impl FieldSelection {
    /// Parses `tid,status,orders.title,…`; `None` when no field is named.
    pub fn parse(text: &str) -> Option<FieldSelection> {
        let mut sel = FieldSelection::default();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "orders" {
                sel.all_orders = true;
            } else if let Some(sub) = name.strip_prefix("orders.") {
                if !sub.is_empty() {
                    sel.order.insert(sub.to_owned());
                }
            } else {
                sel.trade.insert(name.to_owned());
            }
        }
        let empty = sel.trade.is_empty() && !sel.all_orders && sel.order.is_empty();
        (!empty).then_some(sel)
    }

    /// `oaid` is answered only when receiver name, mobile, address and `created` are all asked for.
    fn wants_oaid(&self) -> bool {
        OAID_PREREQUISITES.iter().all(|f| self.trade.contains(*f))
    }

    /// The requested part of a trade, in the trade's own field order. Unknown names are ignored,
    /// as TOP does.
    pub fn project(&self, trade: &Map<String, Value>) -> Map<String, Value> {
        let wants_oaid = self.wants_oaid();
        let mut out = Map::new();
        for (key, value) in trade {
            match key.as_str() {
                "orders" => {
                    if let Some(orders) = self.project_orders(value) {
                        out.insert(key.clone(), orders);
                    }
                }
                "oaid" => {
                    if wants_oaid {
                        out.insert(key.clone(), value.clone());
                    }
                }
                _ => {
                    if self.trade.contains(key) {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        out
    }

    fn project_orders(&self, orders: &Value) -> Option<Value> {
        if self.all_orders {
            return Some(orders.clone());
        }
        if self.order.is_empty() {
            return None;
        }
        let list = orders.get("order")?.as_array()?;
        let projected: Vec<Value> = list
            .iter()
            .filter_map(Value::as_object)
            .map(|o| {
                let picked: Map<String, Value> = o
                    .iter()
                    .filter(|(k, _)| self.order.contains(k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::Object(picked)
            })
            .collect();
        let mut wrapper = Map::new();
        wrapper.insert("order".into(), Value::Array(projected));
        Some(Value::Object(wrapper))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trade() -> Map<String, Value> {
        let v = json!({
            "tid": 1, "status": "X", "created": "c", "receiver_name": "张*",
            "receiver_mobile": "m", "receiver_address": "a", "oaid": "O",
            "orders": {"order": [{"oid": 1, "title": "t", "price": "1.00"}]}
        });
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_requested_fields_and_oaid_rule() {
        let sel = FieldSelection::parse("tid, status,orders.title,oaid").unwrap();
        let out = sel.project(&trade());
        assert_eq!(
            Value::Object(out),
            json!({"tid": 1, "status": "X", "orders": {"order": [{"title": "t"}]}})
        );
        let sel = FieldSelection::parse("receiver_name,receiver_mobile,receiver_address,created")
            .unwrap();
        assert_eq!(sel.project(&trade()).get("oaid"), Some(&json!("O")));
        let sel = FieldSelection::parse("tid,orders").unwrap();
        assert_eq!(
            sel.project(&trade()).get("orders").unwrap()["order"][0]["price"],
            "1.00"
        );
        assert!(FieldSelection::parse(" , ").is_none());
    }
}
