// What the redis storage logs as its target: no secret of the URL survives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { redactUrl } from "../../src/redis/client/redactUrl.js";

test("redactUrl hides the password, and a userinfo that may be one", () => {
  assert.equal(redactUrl("redis://user:pass@host:6379/0"), "redis://user:***@host:6379/0");
  assert.equal(redactUrl("redis://:pass@host"), "redis://:***@host");
  assert.equal(redactUrl("redis://s3cret@host"), "redis://***@host");
  assert.equal(redactUrl("rediss://s3cret@host:6380"), "rediss://***@host:6380");
  assert.equal(redactUrl("redis://host:6379"), "redis://host:6379");
  assert.equal(redactUrl("not a url s3cret"), "<unparseable redis url>");
});
