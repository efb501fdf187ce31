-- The Lua side of the embedded Redis's scripting, run once per Lua state (chunk "=embedded";
-- src/embedded/lua/mod.rs). It builds what Redis 7.0 gives a script: the `redis` and `cjson`
-- tables, Redis's `pcall` (an error table caught is its `err` string), read-only globals and
-- libraries, and the runner whose error handler adds the script's source and line.
-- Arguments: the bridge table (its `call` is set while a script runs), and Rust functions:
-- the stack walker, the JSON decoder and encoder, SHA-1 and the logger.
local bridge, stack_info, json_decode, json_encode, sha1hex, log, null = ...
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

local function command(...)
  local call = bridge.call
  if call == nil then
    error(error_table('redis.call/pcall can only be called inside a script invocation'))
  end
  return call(...)
end

local redis = {}

function redis.call(...)
  local ok, reply = command(...)
  if not ok then
    error(reply)
  end
  return reply
end

function redis.pcall(...)
  local _, reply = command(...)
  return reply
end

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

local cjson = { null = null }

function cjson.decode(text)
  local ok, value = json_decode(text)
  if not ok then
    error(value, 2)
  end
  return value
end

function cjson.encode(value)
  local ok, text = json_encode(value)
  if not ok then
    error(text, 2)
  end
  return text
end

-- Redis 7's pcall: an error table caught is its `err` string.
local lua_pcall = pcall
local function settle(ok, ...)
  if ok then
    return ok, ...
  end
  local e = ...
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
G.print = function(...)
  local parts = {}
  for i = 1, select('#', ...) do
    parts[i] = tostring((select(i, ...)))
  end
  log(0, concat(parts, '\t'))
end
G.loadfile, G.dofile = nil, nil
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

-- Redis's __redis__err__handler: a table with `err`, plus where in the script it happened.
local function handler(err)
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. tostring(err) }
  end
  local source, line = stack_info()
  if source then
    err.source = source
    err.line = line
  end
  return err
end

local function run(f)
  return xpcall(f, handler)
end

return run, env
