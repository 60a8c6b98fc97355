"""Drift check between docs/openapi.yaml and what the server really answers.

Every response the suite receives goes through `check()`: the status must be documented
for that path and method, and a JSON body must validate (JSON Schema 2020-12, as OpenAPI
3.1 uses) against the schema documented for that status. Responses for paths the document
does not describe must be errors in the common error shape.
"""

import re

import jsonschema
import yaml

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _norm(path):
    """Route matching ignores one trailing slash: every route answers with and without."""
    if len(path) > 1 and path.endswith("/"):
        return path[:-1]
    return path


class OpenAPI:
    def __init__(self, filename):
        with open(filename, "r", encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.resolver = jsonschema.RefResolver.from_schema(self.doc)
        self.routes = []  # (regex, template, path item)
        for template, item in (self.doc.get("paths") or {}).items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(_norm(template)))
            self.routes.append((re.compile("^" + pattern + "$"), template, item))
        self._validators = {}

    def schema(self, name):
        return {"$ref": "#/components/schemas/" + name}

    def _validator(self, schema):
        key = id(schema)
        v = self._validators.get(key)
        if v is None:
            v = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
            self._validators[key] = (v, schema)  # keep schema alive so id() stays unique
            return v
        return v[0]

    def validate(self, schema, instance):
        """List of error messages (empty when valid)."""
        v = self._validator(schema)
        return [
            "%s at %s" % (e.message, "/".join(str(p) for p in e.absolute_path) or "(root)")
            for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))
        ][:5]

    def _resolve(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            ref = obj["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            obj = node
        return obj

    def match(self, path):
        path = _norm(path.split("?", 1)[0])
        for rx, template, item in self.routes:
            if rx.match(path):
                return template, item
        return None, None

    def check(self, method, path, status, content_type, body_json, has_body):
        """Problems (list of strings) with one response; empty when it matches the document."""
        problems = []
        method = method.lower()
        template, item = self.match(path)
        error_schema = self.schema("Error")

        def check_error_body():
            if body_json is not None:
                for e in self.validate(error_schema, body_json):
                    problems.append("error body does not match components/schemas/Error: " + e)

        if item is None:
            if not (400 <= status < 500 or status == 503):
                problems.append(
                    "status %d for %s %s: path is not in docs/openapi.yaml (only 4xx/503 errors expected)"
                    % (status, method.upper(), path)
                )
            check_error_body()
            return problems
        op = item.get(method)
        if op is None and method == "head":
            op = item.get("get")
        if op is None:
            if status not in (400, 405, 413, 415, 503):
                problems.append(
                    "status %d for %s %s: operation not documented (expected 405)" % (status, method.upper(), template)
                )
            check_error_body()
            return problems
        responses = op.get("responses") or {}
        resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100))
        if resp is None:
            resp = responses.get("default")
        if resp is None:
            problems.append(
                "status %d is not documented for %s %s in docs/openapi.yaml (documented: %s)"
                % (status, method.upper(), template, ", ".join(sorted(responses)))
            )
            check_error_body()
            return problems
        resp = self._resolve(resp)
        content = resp.get("content") or {}
        if method == "head":
            return problems
        if not content:
            if has_body:
                problems.append("%s %s %d: documented without a body but one was sent" % (method.upper(), template, status))
            return problems
        media = content.get("application/json")
        if media is None:
            problems.append("%s %s %d: no application/json content documented" % (method.upper(), template, status))
            return problems
        if body_json is None:
            problems.append("%s %s %d: documented as JSON but body is not JSON" % (method.upper(), template, status))
            return problems
        schema = media.get("schema")
        if schema is not None:
            for e in self.validate(schema, body_json):
                problems.append(
                    "%s %s %d body does not match docs/openapi.yaml: %s" % (method.upper(), template, status, e)
                )
        return problems
