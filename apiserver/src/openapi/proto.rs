//! The Swagger 2.0 document in gnostic's protobuf form, as `kube-openapi`'s `ToProtoBinary`
//! produces it: the JSON document mapped field by field onto `openapi.v2.Document`. Vendor
//! extensions, defaults, enums and examples travel as YAML text (JSON is valid YAML, and
//! kubectl reads them with a YAML parser).

use prost::Message;
use serde_json::{Map, Value};

use super::gnostic::{
    AdditionalPropertiesItem, Any, ApiKeySecurity, BodyParameter, Definitions, Document, Info, ItemsItem,
    NamedAny, NamedPathItem, NamedResponseValue, NamedSchema, NamedSecurityDefinitionsItem, NamedStringArray,
    NonBodyParameter, Operation, Parameter, ParametersItem, PathItem, PathParameterSubSchema, Paths,
    Properties, QueryParameterSubSchema, Response, ResponseValue, Responses, Schema, SchemaItem,
    SecurityDefinitions, SecurityDefinitionsItem, SecurityRequirement, StringArray, TypeItem,
    additional_properties_item, non_body_parameter, parameter, parameters_item,
};

/// Encodes a Swagger 2.0 document as a gnostic `openapi.v2.Document`, from its top-level members
/// (`swagger`, `info`, security), its path items and its definitions. Path items are converted
/// one at a time, so the whole document never exists as a JSON tree.
pub(super) fn encode(
    top: &Value,
    paths: impl Iterator<Item = (String, Value)>,
    definitions: &Map<String, Value>,
) -> Vec<u8> {
    let mut doc = document(top);
    doc.paths = Some(Paths {
        vendor_extension: Vec::new(),
        path: paths
            .map(|(name, item)| NamedPathItem {
                name,
                value: Some(path_item(&item)),
            })
            .collect(),
    });
    doc.definitions = Some(Definitions {
        additional_properties: named_schemas(definitions),
    });
    doc.encode_to_vec()
}

pub(super) fn document(doc: &Value) -> Document {
    Document {
        swagger: string(doc, "swagger"),
        info: doc.get("info").map(|i| Info {
            title: string(i, "title"),
            version: string(i, "version"),
            description: string(i, "description"),
        }),
        host: string(doc, "host"),
        base_path: string(doc, "basePath"),
        schemes: strings(doc, "schemes"),
        consumes: strings(doc, "consumes"),
        produces: strings(doc, "produces"),
        paths: object(doc, "paths").map(|paths| Paths {
            vendor_extension: Vec::new(),
            path: paths
                .iter()
                .map(|(name, item)| NamedPathItem {
                    name: name.clone(),
                    value: Some(path_item(item)),
                })
                .collect(),
        }),
        definitions: object(doc, "definitions").map(|defs| Definitions {
            additional_properties: named_schemas(defs),
        }),
        security: array(doc, "security").iter().map(security_requirement).collect(),
        security_definitions: object(doc, "securityDefinitions").map(|defs| SecurityDefinitions {
            additional_properties: defs
                .iter()
                .map(|(name, d)| NamedSecurityDefinitionsItem {
                    name: name.clone(),
                    value: Some(SecurityDefinitionsItem {
                        api_key_security: Some(ApiKeySecurity {
                            r#type: string(d, "type"),
                            name: string(d, "name"),
                            r#in: string(d, "in"),
                            description: string(d, "description"),
                        }),
                    }),
                })
                .collect(),
        }),
        vendor_extension: extensions(doc),
    }
}

fn string(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    array(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn object<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

fn boolean(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or_default()
}

fn number(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_default()
}

fn integer(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or_default()
}

/// A value as gnostic's `Any`: YAML text (JSON, which YAML parsers accept).
fn any(v: &Value) -> Any {
    Any {
        yaml: format!("{v}\n"),
    }
}

/// The `x-` members of an object, in order.
fn extensions(v: &Value) -> Vec<NamedAny> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny {
            name: k.clone(),
            value: Some(any(v)),
        })
        .collect()
}

fn security_requirement(v: &Value) -> SecurityRequirement {
    SecurityRequirement {
        additional_properties: v
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, scopes)| NamedStringArray {
                name: name.clone(),
                value: Some(StringArray {
                    value: scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect(),
                }),
            })
            .collect(),
    }
}

fn path_item(v: &Value) -> PathItem {
    let op = |method| v.get(method).map(operation);
    PathItem {
        r#ref: string(v, "$ref"),
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        options: op("options"),
        head: op("head"),
        patch: op("patch"),
        parameters: array(v, "parameters").iter().map(parameters_item).collect(),
        vendor_extension: extensions(v),
    }
}

fn operation(v: &Value) -> Operation {
    Operation {
        tags: strings(v, "tags"),
        summary: string(v, "summary"),
        description: string(v, "description"),
        operation_id: string(v, "operationId"),
        produces: strings(v, "produces"),
        consumes: strings(v, "consumes"),
        parameters: array(v, "parameters").iter().map(parameters_item).collect(),
        responses: object(v, "responses").map(|codes| Responses {
            response_code: codes
                .iter()
                .map(|(code, r)| NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        response: Some(Response {
                            description: string(r, "description"),
                            schema: r.get("schema").map(|s| SchemaItem {
                                schema: Some(schema(s)),
                            }),
                        }),
                    }),
                })
                .collect(),
        }),
        schemes: strings(v, "schemes"),
        deprecated: boolean(v, "deprecated"),
        vendor_extension: extensions(v),
    }
}

fn parameters_item(v: &Value) -> ParametersItem {
    let oneof = if v.get("$ref").is_some() {
        parameters_item::Oneof::JsonReference(super::gnostic::JsonReference {
            r#ref: string(v, "$ref"),
            description: string(v, "description"),
        })
    } else {
        parameters_item::Oneof::Parameter(parameter_of(v))
    };
    ParametersItem { oneof: Some(oneof) }
}

fn parameter_of(v: &Value) -> Parameter {
    let location = string(v, "in");
    let oneof = match location.as_str() {
        "body" => parameter::Oneof::BodyParameter(BodyParameter {
            description: string(v, "description"),
            name: string(v, "name"),
            r#in: location,
            required: boolean(v, "required"),
            schema: v.get("schema").map(|s| Box::new(schema(s))),
        }),
        "path" => non_body(non_body_parameter::Oneof::PathParameterSubSchema(
            PathParameterSubSchema {
                required: boolean(v, "required"),
                r#in: location,
                description: string(v, "description"),
                name: string(v, "name"),
                r#type: string(v, "type"),
                unique_items: boolean(v, "uniqueItems"),
            },
        )),
        _ => non_body(non_body_parameter::Oneof::QueryParameterSubSchema(
            QueryParameterSubSchema {
                required: boolean(v, "required"),
                r#in: location,
                description: string(v, "description"),
                name: string(v, "name"),
                r#type: string(v, "type"),
                unique_items: boolean(v, "uniqueItems"),
            },
        )),
    };
    Parameter { oneof: Some(oneof) }
}

fn non_body(oneof: non_body_parameter::Oneof) -> parameter::Oneof {
    parameter::Oneof::NonBodyParameter(NonBodyParameter { oneof: Some(oneof) })
}

fn named_schemas(map: &Map<String, Value>) -> Vec<NamedSchema> {
    map.iter()
        .map(|(name, s)| NamedSchema {
            name: name.clone(),
            value: Some(schema(s)),
        })
        .collect()
}

/// One JSON schema as gnostic's `Schema`. Keywords gnostic has no field for (`oneOf`, `anyOf`,
/// `nullable`) are dropped, as gnostic's own parser does.
pub(super) fn schema(v: &Value) -> Schema {
    let types = match v.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    Schema {
        r#ref: string(v, "$ref"),
        format: string(v, "format"),
        title: string(v, "title"),
        description: string(v, "description"),
        default: v.get("default").map(any),
        multiple_of: number(v, "multipleOf"),
        maximum: number(v, "maximum"),
        exclusive_maximum: boolean(v, "exclusiveMaximum"),
        minimum: number(v, "minimum"),
        exclusive_minimum: boolean(v, "exclusiveMinimum"),
        max_length: integer(v, "maxLength"),
        min_length: integer(v, "minLength"),
        pattern: string(v, "pattern"),
        max_items: integer(v, "maxItems"),
        min_items: integer(v, "minItems"),
        unique_items: boolean(v, "uniqueItems"),
        max_properties: integer(v, "maxProperties"),
        min_properties: integer(v, "minProperties"),
        required: strings(v, "required"),
        r#enum: array(v, "enum").iter().map(any).collect(),
        additional_properties: v.get("additionalProperties").map(|a| {
            let oneof = match a {
                Value::Bool(b) => additional_properties_item::Oneof::Boolean(*b),
                other => additional_properties_item::Oneof::Schema(Box::new(schema(other))),
            };
            Box::new(AdditionalPropertiesItem { oneof: Some(oneof) })
        }),
        r#type: (!types.is_empty()).then_some(TypeItem { value: types }),
        items: v.get("items").map(|items| ItemsItem {
            schema: match items {
                Value::Array(list) => list.iter().map(schema).collect(),
                one => vec![schema(one)],
            },
        }),
        all_of: array(v, "allOf").iter().map(schema).collect(),
        properties: object(v, "properties").map(|props| Properties {
            additional_properties: named_schemas(props),
        }),
        discriminator: string(v, "discriminator"),
        read_only: boolean(v, "readOnly"),
        example: v.get("example").map(any),
        vendor_extension: extensions(v),
    }
}
