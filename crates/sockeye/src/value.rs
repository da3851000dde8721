//! TODO: Value (helper B)
