-- The Lua side of the embedded Redis's scripting, run once per Lua state (chunk "=embedded";
-- src/embedded/lua/mod.rs). It builds what Redis 7.0 gives a script: the `redis` and `cjson`
-- tables, Redis's `pcall` (an error table caught is its `err` string), read-only globals and
-- libraries, and the runner. `redis.call`/`redis.pcall` (set while a script runs), `cjson`'s
-- functions and the error handler are Rust functions: native like Redis's, so a script's
-- `return redis.call(...)` keeps its frame (Lua drops the frame of a tail call to Lua code).
-- Arguments: the error handler, the unwrapper of native errors, the JSON decoder and encoder,
-- SHA-1, the logger and `cjson.null`.
local handler, unwrap, json_decode, json_encode, sha1hex, log, null = ...
local G = _G
local error, type, tostring, select, rawget, setmetatable, xpcall, pcall =
  error, type, tostring, select, rawget, setmetatable, xpcall, pcall
local concat = table.concat

local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end

local function readonly(t)
  return setmetatable({}, { __index = t, __newindex = readonly_error, __metatable = false })
end

-- Redis's luaPushErrorBuff: '-CODE message' keeps its code, anything else gets ERR.
local function error_table(msg)
  local code, text = 'ERR', msg
  if msg:sub(1, 1) == '-' then
    local space = msg:find(' ', 1, true)
    if space then
      code, text = msg:sub(2, space - 1), msg:sub(space + 1)
    else
      text = msg:sub(2)
    end
  end
  text = (text:gsub('^[\r\n]+', ''))
  text = (text:gsub('[\r\n]+$', ''))
  return { err = code .. ' ' .. text }
end

local redis = {}

local function one_text(...)
  local msg = ...
  if select('#', ...) ~= 1 or (type(msg) ~= 'string' and type(msg) ~= 'number') then
    return nil
  end
  return tostring(msg)
end

function redis.error_reply(...)
  local msg = one_text(...)
  if not msg then
    return error_table('wrong number or type of arguments')
  end
  if msg:sub(1, 1) ~= '-' then
    msg = '-' .. msg
  end
  return error_table(msg)
end

function redis.status_reply(...)
  local msg = one_text(...)
  if not msg then
    return error_table('wrong number or type of arguments')
  end
  return { ok = msg }
end

function redis.sha1hex(...)
  if select('#', ...) ~= 1 then
    error(error_table('wrong number of arguments'))
  end
  return sha1hex(tostring((...)))
end

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3

function redis.log(level, ...)
  local n = select('#', ...)
  if n == 0 then
    error(error_table('redis.log() requires two arguments or more.'))
  end
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  log(level, concat(parts, ' '))
end

redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL =
  0, 1, 2, 2, 3
function redis.set_repl() end
function redis.replicate_commands()
  return true
end
function redis.breakpoint()
  return false
end
function redis.debug() end
function redis.setresp(v)
  if v ~= 2 then
    error(error_table('RESP3 is not supported by the embedded Redis'))
  end
end

local cjson = { null = null, decode = json_decode, encode = json_encode }

-- Redis 7's pcall: an error table caught is its `err` string.
local lua_pcall = pcall
local function settle(ok, ...)
  if ok then
    return ok, ...
  end
  local e = unwrap((...))
  if type(e) == 'table' then
    local s = rawget(e, 'err')
    if type(s) == 'string' or type(s) == 'number' then
      e = s
    end
  end
  return false, e
end

G.pcall = function(f, ...)
  return settle(lua_pcall(f, ...))
end
G.loadfile, G.dofile, G.print = nil, nil, nil
G.redis, G.cjson = readonly(redis), readonly(cjson)
G.string, G.math, G.table = readonly(string), readonly(math), readonly(table)

-- What scripts see as their globals: everything above, read-only; a name that is not there
-- is an error rather than nil.
local env = setmetatable({}, {
  __index = function(_, k)
    local v = rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = readonly_error,
  __metatable = false,
})
G._G = env

local function run(f)
  return xpcall(f, handler)
end

return run, env, redis
