-- wrk script: cycle through the request paths listed (one a line) in the
-- file named by $FP_WRK_PATHS, so wrk sends the same URL set as the other
-- clients. Each wrk thread starts at a different offset of the list.
local file = os.getenv("FP_WRK_PATHS")
local paths = {}
for line in io.lines(file) do
  if #line > 0 then paths[#paths + 1] = line end
end
local i = 0
local tid = 0

setup = function(thread)
  thread:set("start", tid)
  tid = tid + 1
end

init = function(args)
  i = (start or 0) * 7919 % #paths
end

request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format(nil, paths[i])
end
