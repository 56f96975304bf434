# static_files.cmake - which committed files the broker embeds and serves
# over plain HTTP (broker/static_files.h), and the build step that turns them
# into static_files_data.c. Included by broker/CMakeLists.txt; the routes
# themselves are listed in broker/http_route.c.
set(wsb_static_files
  "/wsbroker.js=${PROJECT_SOURCE_DIR}/tools/js/dist/wsbroker.js"
  "/demo=${PROJECT_SOURCE_DIR}/tools/demo/index.html"
  "/demo.js=${PROJECT_SOURCE_DIR}/tools/demo/demo.js")

set(wsb_static_out ${CMAKE_CURRENT_BINARY_DIR}/static_files_data.c)
set(wsb_static_deps ${CMAKE_CURRENT_SOURCE_DIR}/embed_files.cmake)
foreach(entry IN LISTS wsb_static_files)
  string(REGEX REPLACE "^[^=]*=" "" path "${entry}")
  list(APPEND wsb_static_deps ${path})
endforeach()
list(JOIN wsb_static_files "|" wsb_static_arg)

add_custom_command(
  OUTPUT ${wsb_static_out}
  COMMAND ${CMAKE_COMMAND} -DOUT=${wsb_static_out} "-DFILES=${wsb_static_arg}"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/embed_files.cmake
  DEPENDS ${wsb_static_deps}
  COMMENT "Embedding the static files the broker serves (/wsbroker.js, /demo)"
  VERBATIM)
target_sources(wsbcore PRIVATE ${wsb_static_out})
