-- Integers written back from Lua: its numbers are doubles, and tostring() would
-- write 1e+15 for large ones, which HINCRBY then refuses.
local function int(x) return string.format('%d', x) end
