-- OpenStreetMap tags to the layers and "kind" attributes protomaps-leaflet draws
-- (the names of the Protomaps basemap: roads, buildings, pois, places, water, landuse),
-- so the map page needs no style of its own. Read by Debian's tilemaker 2.2.

node_keys = { "amenity", "shop", "place", "office", "healthcare", "tourism" }

function init_function()
end

function exit_function()
end

local function first(obj, keys)
  for _, k in ipairs(keys) do
    local v = obj:Find(k)
    if v ~= "" then return v end
  end
  return ""
end

function node_function(node)
  local place = node:Find("place")
  if place ~= "" then
    node:Layer("places", false)
    local kind = place
    if place == "city" or place == "town" then kind = "locality" end
    node:Attribute("kind", kind)
    node:Attribute("name", node:Find("name"))
    return
  end
  local kind = first(node, { "amenity", "shop", "office", "healthcare", "tourism" })
  if kind ~= "" then
    node:Layer("pois", false)
    node:Attribute("kind", kind)
    node:Attribute("name", node:Find("name"))
  end
end

local major = { primary = true, secondary = true, trunk = true, motorway = true }
local paths = { path = true, footway = true, track = true, cycleway = true, steps = true }

function way_function(way)
  local highway = way:Find("highway")
  local building = way:Find("building")
  local water = first(way, { "waterway", "natural" })
  local landuse = first(way, { "landuse", "leisure" })
  local amenity = way:Find("amenity")
  if highway ~= "" then
    way:Layer("roads", false)
    local kind = "minor_road"
    if major[highway] then kind = "major_road" elseif paths[highway] then kind = "path" end
    way:Attribute("kind", kind)
    way:Attribute("kind_detail", highway)
    way:Attribute("name", way:Find("name"))
  elseif building ~= "" then
    way:Layer("buildings", true)
    way:Attribute("kind", "building")
  elseif water == "water" or way:Find("waterway") ~= "" then
    way:Layer("water", way:IsClosed())
    way:Attribute("kind", "water")
  elseif amenity == "marketplace" or landuse ~= "" then
    way:Layer("landuse", true)
    way:Attribute("kind", amenity ~= "" and amenity or landuse)
  end
  if amenity ~= "" and way:IsClosed() then
    way:LayerAsCentroid("pois")
    way:Attribute("kind", amenity)
    way:Attribute("name", way:Find("name"))
  end
end
