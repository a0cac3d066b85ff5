"""HTTP endpoints of the identity module: auth, me, users, teams, tenant settings."""

from __future__ import annotations

from fastapi import APIRouter

from servanda.identity import audit_endpoints

auth_router = APIRouter(prefix="/auth", tags=["auth"])
identity_router = APIRouter(prefix="/identity", tags=["identity"])
tenant_router = APIRouter(prefix="/tenant", tags=["tenant"])

routers = [auth_router, identity_router, tenant_router, audit_endpoints.router]
