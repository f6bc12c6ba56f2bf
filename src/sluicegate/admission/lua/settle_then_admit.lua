-- Settlements, then an admission, in one script (one round trip, one EVALSHA):
-- the two scripts above as local functions. Their arguments come as one JSON
-- array, [[[key count, [args]] per settlement], [admission args]]: one
-- argument is cheaper to pack than dozens, and Redis decodes it in about the
-- time it takes to hand the script as many separate ones (measured: 3.5 µs).
-- KEYS holds the settlements' keys in order, then the admission's.
local function adjust(KEYS, ARGV)
${ADJUST}
end
local function admit(KEYS, ARGV)
${ADMIT}
end
local spec = cjson.decode(ARGV[1])
local ki = 1
for _, settlement in ipairs(spec[1]) do
  local ks = {}
  for j = 1, settlement[1] do ks[j] = KEYS[ki]; ki = ki + 1 end
  adjust(ks, settlement[2])
end
local ks = {}
for j = ki, #KEYS do ks[#ks + 1] = KEYS[j] end
return admit(ks, spec[2])
