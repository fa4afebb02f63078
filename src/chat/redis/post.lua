-- RouteChat's post script: Redis runs it atomically, so numbering a note, answering the notes
-- kept before it, storing it, applying the limits and publishing it can never interleave with
-- another replica's post. Loaded by src/chat/redis/mod.rs; its answer is read by wire.rs.
--
-- KEYS: the location's list, the board's state (a hash: `epoch`, `counter`, `bytes`), the list
-- of locations in order of creation.
-- ARGV: the note's bytes; the epoch and the number of the newest note the caller holds for the
-- location (number 0: none); notes kept per location; locations kept; bytes kept; the channel to
-- publish on; an epoch to start with if the board has none.
-- Answers { the note's number, 1 if the notes that follow continue the caller's (0 if they
-- replace them), the epoch, how many notes were kept at the location before this one, those
-- notes as `NUMBER:BYTES` (only those after the caller's newest when they continue it) }, and
-- publishes `EPOCH:NUMBER:PREVIOUS:BYTES`.
-- A note weighs its stored length plus 64 bytes.

local list, state, locations = KEYS[1], KEYS[2], KEYS[3]
local function number_of(kept) return tonumber(string.match(kept, '^(%d+):')) end
local function weight(kept) return #kept + 64 end
local function decimal(n) return string.format('%d', n) end

local epoch = redis.call('HGET', state, 'epoch')
if not epoch then
  epoch = ARGV[8]
  redis.call('HSET', state, 'epoch', epoch)
end
local number = redis.call('HINCRBY', state, 'counter', 1)
local known = 0
if ARGV[2] == epoch then known = tonumber(ARGV[3]) end

local newest = redis.call('LINDEX', list, -1)
local previous = 0
if newest then previous = number_of(newest) end
local answer = {number, 0, epoch, 0}
if known > 0 and previous == known then
  answer[2] = 1
elseif newest then
  local kept = redis.call('LRANGE', list, 0, -1)
  local from = 1
  for i = #kept, 1, -1 do
    local n = number_of(kept[i])
    if n == known then
      from = i + 1
      answer[2] = 1
      break
    end
    if n < known then break end
  end
  for i = from, #kept do answer[#answer + 1] = kept[i] end
end

local bytes
local function drop_note()
  local dropped = redis.call('LPOP', list)
  bytes = redis.call('HINCRBY', state, 'bytes', -weight(dropped))
end
local function drop_oldest_location()
  local old = redis.call('LPOP', locations)
  local freed = 0
  for _, kept in ipairs(redis.call('LRANGE', old, 0, -1)) do freed = freed + weight(kept) end
  redis.call('DEL', old)
  bytes = redis.call('HINCRBY', state, 'bytes', -freed)
end

local stored = decimal(number) .. ':' .. ARGV[1]
local length = redis.call('RPUSH', list, stored)
answer[4] = length - 1
bytes = redis.call('HINCRBY', state, 'bytes', weight(stored))
for _ = tonumber(ARGV[4]) + 1, length do drop_note() end
if not newest then
  local count = redis.call('RPUSH', locations, list)
  for _ = tonumber(ARGV[5]) + 1, count do drop_oldest_location() end
end
while bytes > tonumber(ARGV[6]) do
  local first = redis.call('LINDEX', locations, 0)
  if not first then break end
  if first ~= list then
    drop_oldest_location()
  elseif redis.call('LLEN', list) > 1 then
    drop_note()
  else
    break
  end
end
-- Never below zero, should anything but this script have dropped notes.
if bytes < 0 then
  redis.call('HSET', state, 'bytes', 0)
end

redis.call('PUBLISH', ARGV[7], epoch .. ':' .. decimal(number) .. ':' .. decimal(previous) .. ':' .. ARGV[1])
return answer
