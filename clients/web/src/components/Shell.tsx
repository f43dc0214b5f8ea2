// The frame around every page: navigation the person may use, who they are, logout.
import { useEffect, type ReactNode } from "react";
import { AppShell, Badge, Burger, Button, Group, NavLink, Text, Title } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { NavLink as RouterLink, useLocation } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { roleLabel } from "../auth/navigation";
import { useFiringCount } from "../alerts/FiringCount";

export function Shell({ children }: { children: ReactNode }) {
  const { user, abilities, logout } = useAuth();
  const [opened, { toggle }] = useDisclosure();
  const firing = useFiringCount();
  const location = useLocation();
  const current = abilities.navigation().find((item) => location.pathname.startsWith(item.path));
  useEffect(() => {
    document.title = current ? `${current.label} · camfleet` : "camfleet";
  }, [current]);
  return (
    <AppShell
      header={{ height: 52 }}
      navbar={{ width: 200, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" />
            <Title order={4}>camfleet</Title>
          </Group>
          <Group gap="sm">
            <Text size="sm" data-testid="current-user">
              {user?.displayName || user?.username}
            </Text>
            <Badge variant="light" data-testid="current-role">
              {roleLabel(abilities.role)}
            </Badge>
            <Button size="xs" variant="subtle" data-testid="logout" onClick={() => void logout()}>
              Log out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" data-testid="nav">
        {abilities.navigation().map((item) => (
          <NavLink
            key={item.path}
            component={RouterLink}
            to={item.path}
            label={item.label}
            active={location.pathname.startsWith(item.path)}
            data-testid={`nav-${item.path.slice(1)}`}
            rightSection={
              item.path === "/alerts" && firing ? (
                <Badge
                  color="red"
                  size="sm"
                  circle={firing < 10}
                  data-testid="nav-firing-count"
                  title={`${firing} firing`}
                >
                  {firing}
                </Badge>
              ) : undefined
            }
          />
        ))}
        <NavLink
          component={RouterLink}
          to="/account"
          label="My account"
          active={location.pathname === "/account"}
          data-testid="nav-account"
        />
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
