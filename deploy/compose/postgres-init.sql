-- The roles of docs/operations.md "Deviation from the blueprint: two database URLs", created
-- once by the postgres image on an empty volume. LOCAL DEVELOPMENT PASSWORDS ONLY.
CREATE ROLE servanda_owner LOGIN PASSWORD 'owner-local-only';
CREATE ROLE servanda_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD 'app-local-only';
CREATE ROLE servanda_maint LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD 'maint-local-only';
CREATE DATABASE servanda OWNER servanda_owner;
GRANT CONNECT ON DATABASE servanda TO servanda_app, servanda_maint;
\connect servanda
GRANT ALL ON SCHEMA public TO servanda_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
